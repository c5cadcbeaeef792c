"""The ELMo scalar mix: one task-specific weighted sum of the biLM's ``L + 1`` layers (Peters et al. 2018, eq. 1).

    ELMo_k = γ · Σ_j s_j · h_kj,   s = softmax(w)

``w`` starts at 0 (uniform weights) and ``γ`` at 1.  ``mode`` picks what is learned:

- ``all``: ``w`` and ``γ`` (the paper's default);
- ``top``: the top layer only (``s`` one-hot), ``γ`` still learned — the paper's "last layer only" ablation;
- ``average``: fixed equal weights, ``γ`` learned (the limit of a very large λ);
- ``layer``: one chosen layer (``s`` one-hot at ``layer``), ``γ`` learned — what per-layer probing needs.

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


class ScalarMix(nn.Module):
    """γ · Σ_j softmax(w)_j · h_j over the biLM layers.

    # Parameters
    num_layers : ``L + 1``, the number of biLM representations per token.
    mode : ``all`` | ``top`` | ``average`` | ``layer`` (see the module docstring).
    layer_norm : normalise each layer over its unmasked elements before mixing (reference variant).
    layer : the layer index for ``mode="layer"`` (0 = the context-free token layer).
    """

    def __init__(self, num_layers: int, mode: str = "all", layer_norm: bool = False, layer: int | None = None) -> None:
        super().__init__()
        if mode not in MIX_MODES:
            raise ValueError(f"mix mode must be one of {', '.join(MIX_MODES)}, got {mode!r}")
        if mode == "layer" and (layer is None or not -num_layers <= layer < num_layers):
            raise ValueError(f"mix mode 'layer' needs a layer index in [0, {num_layers - 1}], got {layer!r}")
        self.num_layers = num_layers
        self.mode = mode
        self.layer_norm = layer_norm
        self.gamma = nn.Parameter(torch.ones(1))
        if mode == "all":
            self.weights = nn.Parameter(torch.zeros(num_layers))  # raw w, softmax'd in forward
        else:
            fixed = torch.zeros(num_layers)
            if mode == "top":
                fixed[-1] = 1.0
            elif mode == "layer":
                fixed[layer] = 1.0
            else:
                fixed[:] = 1.0 / num_layers
            self.register_buffer("fixed_weights", fixed)

    def normalized_weights(self) -> torch.Tensor:
        """The mixing weights ``s`` ``(num_layers,)`` (softmax of ``w`` in ``all`` mode, fixed otherwise)."""
        if self.mode == "all":
            return torch.softmax(self.weights, dim=0)
        return self.fixed_weights

    def l2_penalty(self) -> torch.Tensor:
        """``Σ w²`` on the raw (pre-softmax) weights; zero when the weights are not learned."""
        if self.mode == "all":
            return (self.weights ** 2).sum()
        return self.gamma.new_zeros(())

    def forward(self, layers: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mix ``layers`` ``(batch, num_layers, time, dim)`` into ``(batch, time, dim)``; ``mask`` is (batch, time)."""
        if layers.size(1) != self.num_layers:
            raise ValueError(f"ScalarMix built for {self.num_layers} layers got {layers.size(1)}")
        s = self.normalized_weights()  # (num_layers,)
        if self.layer_norm:
            layers = torch.stack([masked_layer_norm(layers[:, j], mask) for j in range(self.num_layers)], 1)
        mixed = (s.view(1, -1, 1, 1) * layers).sum(1)  # (batch, time, dim)
        return self.gamma * mixed

    def extra_repr(self) -> str:
        return f"num_layers={self.num_layers}, mode={self.mode!r}, layer_norm={self.layer_norm}"
