"""The ELMo scalar mix: one task-specific weighted sum of the biLM's ``L + 1`` layers (Peters et al. 2018, eq. 1).

    ELMo_k = γ · Σ_j s_j · h_kj,   s = softmax(w)

``w`` starts at 0 (uniform weights) and ``γ`` at 1.  ``mode`` picks what is learned:

- ``all``: ``w`` and ``γ`` (the paper's default);
- ``top``: the top layer only (``s`` one-hot), ``γ`` still learned — the paper's "last layer only" ablation;
- ``average``: fixed equal weights, ``γ`` learned (the limit of a very large λ);
- ``layer``: one chosen layer (``s`` one-hot at ``layer``), ``γ`` learned — what per-layer probing needs.

``max_layer=k`` mixes layers ``0..k`` only (``s`` has ``k + 1`` entries; ``top`` is then layer ``k``): Tenney et al.'s
cumulative scoring, for any encoder, from the same layers (and the same layer cache) as the full mix.

``measure_norms()`` makes the following forward passes accumulate each mixed layer's token norms (a
``LayerNormMeter``), for the norm-weighted shares of ``elmo_lab.metrics.layer_scores``; the pipeline turns it on for
the final evaluation pass only.

``layer_norm`` is the reference implementations' variant (bilm-tf ``weight_layers``, AllenNLP ``ScalarMix``): each
layer's ``(batch, time, dim)`` tensor is normalised with one mean and one variance over all its unmasked elements,
with no learned gain or bias.  It is not per-token ``nn.LayerNorm``.
"""
from __future__ import annotations

import torch
from torch import nn

from elmo_lab.config.choices import MIX_MODES  # defined once, by the enum of the config schema


def masked_layer_norm(layer: torch.Tensor, mask: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Normalise ``layer`` ``(batch, time, dim)`` by the mean/variance of its unmasked elements (``mask`` (batch, time)).

    Padded positions are zero in the result.
    """
    m = mask.unsqueeze(-1).to(layer.dtype)  # (batch, time, 1)
    n = (m.sum() * layer.size(-1)).clamp(min=1.0)  # number of unmasked elements
    mean = (layer * m).sum() / n
    var = (((layer - mean) * m) ** 2).sum() / n
    return (layer - mean) / torch.sqrt(var + eps) * m  # (batch, time, dim)


class LayerNormMeter:
    """Per layer, the sum over unmasked tokens of ``‖h_ℓ‖₂`` and the number of tokens (float64, on the CPU)."""

    def __init__(self, num_layers: int) -> None:
        self.sums = torch.zeros(num_layers, dtype=torch.float64)
        self.tokens = 0

    @torch.no_grad()
    def update(self, layers: torch.Tensor, mask: torch.Tensor) -> None:
        """Add a batch: ``layers`` (batch, num_layers, time, dim), ``mask`` (batch, time)."""
        norms = torch.linalg.vector_norm(layers.float(), dim=-1)  # (batch, num_layers, time)
        m = mask.unsqueeze(1).to(norms.dtype)  # (batch, 1, time)
        self.sums += (norms * m).sum((0, 2)).double().cpu()  # (num_layers,)
        self.tokens += int(mask.sum())

    def mean_norms(self) -> list[float]:
        """``m_ℓ``: the mean token norm of each layer (zeros before any token)."""
        return [float(v) / self.tokens if self.tokens else 0.0 for v in self.sums]


class ScalarMix(nn.Module):
    """γ · Σ_j softmax(w)_j · h_j over the biLM layers.

    # Parameters
    num_layers : ``L + 1``, the number of biLM representations per token.
    mode : ``all`` | ``top`` | ``average`` | ``layer`` (see the module docstring).
    layer_norm : normalise each layer over its unmasked elements before mixing (reference variant).
    layer : the layer index for ``mode="layer"`` (0 = the context-free token layer).
    max_layer : mix layers ``0..max_layer`` only (None: all); not with ``mode="layer"``.
    """

    def __init__(self, num_layers: int, mode: str = "all", layer_norm: bool = False, layer: int | None = None,
                 max_layer: int | None = None) -> None:
        super().__init__()
        if mode not in MIX_MODES:
            raise ValueError(f"mix mode must be one of {', '.join(MIX_MODES)}, got {mode!r}")
        if mode == "layer" and (layer is None or not -num_layers <= layer < num_layers):
            raise ValueError(f"mix mode 'layer' needs a layer index in [0, {num_layers - 1}], got {layer!r}")
        if max_layer is not None and (mode == "layer" or not 0 <= max_layer < num_layers):
            raise ValueError(f"max_layer must be in [0, {num_layers - 1}] and not with mode 'layer', got {max_layer!r}"
                             f" (mode {mode!r})")
        self.num_layers = num_layers
        self.used_layers = num_layers if max_layer is None else max_layer + 1  # layers 0 .. used_layers - 1
        self.mode = mode
        self.layer = layer
        self.layer_norm = layer_norm
        self.norm_meter: LayerNormMeter | None = None  # set by measure_norms
        self.gamma = nn.Parameter(torch.ones(1))
        if mode == "all":
            self.weights = nn.Parameter(torch.zeros(self.used_layers))  # raw w, softmax'd in forward
        else:
            fixed = torch.zeros(self.used_layers)
            if mode == "top":
                fixed[-1] = 1.0
            elif mode == "layer":
                fixed[layer] = 1.0
            else:
                fixed[:] = 1.0 / self.used_layers
            self.register_buffer("fixed_weights", fixed)

    def normalized_weights(self) -> torch.Tensor:
        """The mixing weights ``s`` ``(used_layers,)`` (softmax of ``w`` in ``all`` mode, fixed otherwise)."""
        if self.mode == "all":
            return torch.softmax(self.weights, dim=0)
        return self.fixed_weights

    @property
    def learned_weights(self) -> nn.Parameter | None:
        """The raw weights w when they are learned (``all`` mode), else None (what the λ penalty and
        ``elmo.mix_lr`` act on)."""
        return self.weights if self.mode == "all" else None

    def l2_penalty(self) -> torch.Tensor:
        """``Σ w²`` on the raw (pre-softmax) weights; zero when the weights are not learned."""
        if self.learned_weights is not None:
            return (self.learned_weights ** 2).sum()
        return self.gamma.new_zeros(())

    def forward(self, layers: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mix ``layers`` ``(batch, num_layers, time, dim)`` into ``(batch, time, dim)``; ``mask`` is (batch, time)."""
        if layers.size(1) != self.num_layers:
            raise ValueError(f"ScalarMix built for {self.num_layers} layers got {layers.size(1)}")
        if self.mode == "layer" and not self.layer_norm and self.norm_meter is None:
            return self.gamma * layers[:, self.layer]  # (batch, time, dim): what the one-hot sum gives, bit for bit
        layers = layers[:, : self.used_layers]  # (batch, used_layers, time, dim)
        s = self.normalized_weights()  # (used_layers,)
        if self.layer_norm:
            layers = torch.stack([masked_layer_norm(layers[:, j], mask) for j in range(self.used_layers)], 1)
        if self.norm_meter is not None:
            self.norm_meter.update(layers, mask)
        mixed = (s.view(1, -1, 1, 1) * layers).sum(1)  # (batch, time, dim)
        return self.gamma * mixed

    def measure_norms(self) -> LayerNormMeter:
        """From now on, accumulate the token norms of the layers this mix weighs (a fresh meter, returned)."""
        self.norm_meter = LayerNormMeter(self.used_layers)
        return self.norm_meter

    def extra_repr(self) -> str:
        upto = "" if self.used_layers == self.num_layers else f", max_layer={self.used_layers - 1}"
        return f"num_layers={self.num_layers}, mode={self.mode!r}, layer_norm={self.layer_norm}{upto}"
