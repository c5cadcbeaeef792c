"""The transformer biLM of Peters et al. 2018b ("Dissecting Contextual Word Embeddings"), after AllenNLP's
``BidirectionalLanguageModelTransformer``: the LSTM biLM's character-CNN token encoder (the same module, shared by
both directions), sinusoidal positions added to the token vectors, and two unshared stacks of causal self-attention
blocks: the forward stack lets position ``k`` attend to positions ``<= k``, the backward stack to ``>= k``, neither
to padding, so each direction is a true language model.  The softmax (``elmo_lab.lm.softmax``) is shared by both, as
for the LSTM biLM.

Blocks are pre-norm (``x + attention(norm(x))``, ``x + ffn(norm(x))``, ReLU feed-forward) and each stack ends with
a layer norm on its top output, as AllenNLP's.  Positions are sinusoidal rather than learned: they add no
parameters (the controlled comparison with the LSTM biLM is at equal parameter count) and they exist at every
length, so task sentences longer than the pretraining rows (``data.window``) need no cut.

Outputs are those of the LSTM ``BiLM`` (``elmo_lab.bilm.model.assemble_output``): ``L + 1`` layers, layer 0 the token
vectors duplicated (``[x; x]``, without the positions), layer ``j`` the ``j``-th block of each direction
``[forward_j; backward_j]``.  A transformer carries no state between batches (``carries_state`` is False).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from elmo_lab.bilm.model import BiLMOutput, CharBiLMBase, assemble_output
from elmo_lab.bilm.token_encoder import CharCNNEncoder
from elmo_lab.bilm.transformer_options import TransformerOptions


class SelfAttentionBlock(nn.Module):
    """One pre-norm block: multi-head self-attention under a given mask, then a ReLU feed-forward layer."""

    def __init__(self, dim: int, n_heads: int, ffn_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.n_heads, self.dropout = n_heads, dropout
        self.attention_norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.attention_out = nn.Linear(dim, dim)
        self.ffn_norm = nn.LayerNorm(dim)
        self.ffn_in = nn.Linear(dim, ffn_dim)
        self.ffn_out = nn.Linear(ffn_dim, dim)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """``x`` ``(batch, time, dim)``; ``allowed`` ``(batch, 1, time, time)``: query i may attend to key j."""
        batch, time, dim = x.shape
        p = self.dropout if self.training else 0.0
        qkv = self.qkv(self.attention_norm(x)).view(batch, time, 3, self.n_heads, dim // self.n_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # 3 x (batch, heads, time, head_dim)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=p)  # (batch, heads, time, hd)
        attended = attended.transpose(1, 2).reshape(batch, time, dim)  # (batch, time, dim)
        x = x + F.dropout(self.attention_out(attended), p, self.training)
        hidden = F.relu(self.ffn_in(self.ffn_norm(x)))  # (batch, time, ffn_dim)
        return x + F.dropout(self.ffn_out(hidden), p, self.training)  # (batch, time, dim)


class TransformerStack(nn.Module):
    """``n_layers`` blocks of one direction; returns every block's output, the top one layer-normalised."""

    def __init__(self, options: TransformerOptions, dropout: float = 0.0) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(SelfAttentionBlock(options.dim, options.n_heads, options.ffn_dim, dropout)
                                    for _ in range(options.n_layers))
        self.final_norm = nn.LayerNorm(options.dim)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> list[torch.Tensor]:
        outputs = []
        for block in self.blocks:
            x = block(x, allowed)  # (batch, time, dim)
            outputs.append(x)
        outputs[-1] = self.final_norm(outputs[-1])
        return outputs  # L x (batch, time, dim)


def sinusoidal_positions(time: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """``(time, dim)``: ``sin(pos / 10000^(2i/dim))`` in the even columns, ``cos`` in the odd ones (Vaswani et al.)."""
    positions = torch.arange(time, dtype=torch.float32, device=device)[:, None]  # (time, 1)
    rates = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / dim))
    table = torch.zeros(time, dim, device=device)  # (time, dim)
    table[:, 0::2] = torch.sin(positions * rates)
    table[:, 1::2] = torch.cos(positions * rates[: dim // 2])
    return table


def attention_masks(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The forward and backward stacks' ``allowed`` masks ``(batch, 1, time, time)`` for ``mask`` ``(batch, time)``:
    query ``i`` sees real keys ``j <= i`` (forward) or ``j >= i`` (backward).  Every position may see itself, so a
    padding query (whose output is zeroed) never has an empty row, which would make the softmax NaN."""
    time = mask.size(1)
    positions = torch.arange(time, device=mask.device)
    earlier = positions[None, :] <= positions[:, None]  # (time, time): key j <= query i
    itself = torch.eye(time, dtype=torch.bool, device=mask.device)  # (time, time)
    keys = mask[:, None, None, :]  # (batch, 1, 1, time)
    return (earlier & keys) | itself, (earlier.T & keys) | itself  # (batch, 1, time, time) each


class TransformerBiLM(CharBiLMBase):
    """# Parameters
    options : the architecture (``TransformerOptions``).
    dropout : on the position-added token vectors, the attention weights and each block's residual branches while
        training.
    """

    carries_state = False

    def __init__(self, options: TransformerOptions, dropout: float = 0.0) -> None:
        super().__init__()
        self.options = options
        self.dropout = dropout
        self.token_encoder = CharCNNEncoder(options)
        self.forward_stack = TransformerStack(options, dropout)
        self.backward_stack = TransformerStack(options, dropout)

    def reset_state(self) -> None:
        """Nothing is carried between batches."""

    @property
    def carried_state(self) -> tuple:
        return None, None

    @carried_state.setter
    def carried_state(self, state: tuple) -> None:
        if any(s is not None for s in state):
            raise ValueError("a transformer biLM carries no state between batches")

    def directional_tops(self, forward_ids: torch.Tensor, backward_ids: torch.Tensor,
                         stateful: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        raise ValueError("data.batching=stream carries LSTM state between windows; a transformer biLM trains and "
                         "evaluates on packed rows (data.batching=rows)")

    def forward(self, char_ids: torch.Tensor, stateful: bool = False,
                keep_sentence_boundaries: bool = False) -> BiLMOutput:
        """Run both stacks over ``char_ids`` ``(batch, time, max_chars)`` that include ``<S>``/``</S>``; see
        ``BiLM.forward`` (``stateful`` must be False: there is no state to carry)."""
        if stateful:
            raise ValueError("a transformer biLM carries no state between batches (bilm.stateful=false)")
        mask = (char_ids > 0).any(-1)  # (batch, time)
        tokens = self.token_encoder(char_ids)  # (batch, time, dim)
        x = tokens + sinusoidal_positions(tokens.size(1), tokens.size(2), tokens.device)  # (batch, time, dim)
        x = F.dropout(x, self.dropout, self.training)
        forward_allowed, backward_allowed = attention_masks(mask)
        keep = mask.unsqueeze(-1).to(x.dtype)  # (batch, time, 1): zero at padding, as the LSTM's outputs
        forward = [h * keep for h in self.forward_stack(x, forward_allowed)]  # L x (batch, time, dim)
        backward = [h * keep for h in self.backward_stack(x, backward_allowed)]  # L x (batch, time, dim)
        return assemble_output(tokens, forward, backward, mask, keep_sentence_boundaries)
