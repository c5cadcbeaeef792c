"""The Enhanced Sequential Inference Model (ESIM; Chen et al. 2017, "Enhanced LSTM for Natural Language
Inference") after its input encoder: the ELMo paper's SNLI model.

The input encoding (a BiLSTM shared by premise and hypothesis) is the task's ELMo-placed encoder, so it is not
here; these layers take its outputs ``a`` (premise, batch × la × d) and ``b`` (hypothesis, batch × lb × d):

1. **soft alignment** (``SoftAlignment``): e_ij = a_i · b_j; ã_i = Σ_j softmax_j(e_ij) b_j over the hypothesis'
   real tokens, b̃_j = Σ_i softmax_i(e_ij) a_i over the premise's;
2. **enhancement** (``enhance``): m_a = [a; ã; a − ã; a ⊙ ã], likewise m_b;
3. **composition** (``Composition``): a ReLU projection to ``hidden_dim`` (which keeps the model small, as in the
   paper's implementation), then a BiLSTM over each side, shared by both;
4. **pooling** (``max_avg_pool``): the masked average and maximum over time of each side, concatenated:
   v = [v_a,avg; v_a,max; v_b,avg; v_b,max];
5. **classifier**: an MLP with one tanh hidden layer, then the class logits.

Every step ignores padding: padded positions are masked out of each softmax and pooling, and aligned vectors are
zero there, so a sentence's outputs do not depend on how far its batch was padded.
"""
from __future__ import annotations

import torch
from torch import nn

from elmo_lab.modules.encoders import BiLSTMEncoder, masked_max, masked_mean

__all__ = ["ESIM", "Composition", "SoftAlignment", "enhance", "masked_softmax", "max_avg_pool"]


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax of ``scores`` over ``dim`` where ``mask`` (broadcastable, bool) is true; 0 where a row has none."""
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim).nan_to_num(0.0)


class SoftAlignment(nn.Module):
    """ESIM's local inference: each premise token attends over the hypothesis tokens and vice versa (no weights)."""

    def forward(self, a: torch.Tensor, b: torch.Tensor, a_mask: torch.Tensor,
                b_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``a`` (batch, la, dim), ``b`` (batch, lb, dim), masks (batch, la) / (batch, lb) → ``(ã, b̃)`` of the
        shapes of ``a`` and ``b``, zero at padded positions."""
        scores = a @ b.transpose(1, 2)  # (batch, la, lb)
        to_b = masked_softmax(scores, b_mask.unsqueeze(1), -1)  # (batch, la, lb)
        to_a = masked_softmax(scores.transpose(1, 2), a_mask.unsqueeze(1), -1)  # (batch, lb, la)
        a_aligned = (to_b @ b) * a_mask.unsqueeze(-1)  # (batch, la, dim)
        b_aligned = (to_a @ a) * b_mask.unsqueeze(-1)  # (batch, lb, dim)
        return a_aligned, b_aligned


def enhance(x: torch.Tensor, aligned: torch.Tensor) -> torch.Tensor:
    """``[x; x̃; x − x̃; x ⊙ x̃]``: (batch, time, dim) twice → (batch, time, 4 * dim)."""
    return torch.cat([x, aligned, x - aligned, x * aligned], -1)  # (batch, time, 4 * dim)


def max_avg_pool(v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked average and maximum over time: (batch, time, dim) → (batch, 2 * dim)."""
    return torch.cat([masked_mean(v, mask), masked_max(v, mask)], -1)  # (batch, 2 * dim)


class Composition(nn.Module):
    """ESIM's inference composition: ReLU projection of the enhanced vectors, dropout, BiLSTM.

    # Parameters
    input_dim : width of the enhanced vectors (4 × the encoder's output width).
    hidden_dim : projection width and LSTM cells per direction; ``output_dim`` is ``2 * hidden_dim``.
    dropout : on the projection's output.
    """

    def __init__(self, input_dim: int, hidden_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(input_dim, hidden_dim), nn.ReLU(), nn.Dropout(dropout))
        self.lstm = BiLSTMEncoder(hidden_dim, hidden_dim)
        self.output_dim = self.lstm.output_dim

    def forward(self, m: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``m`` (batch, time, input_dim), ``mask`` (batch, time) → (batch, time, 2 * hidden_dim)."""
        return self.lstm(self.project(m), mask)  # (batch, time, 2 * hidden_dim)


class ESIM(nn.Module):
    """Alignment → enhancement → composition (shared by both sides) → max+avg pooling → tanh MLP → logits.

    # Parameters
    input_dim : width of the encoded tokens (the placed encoder's ``output_dim``, ELMo included at ``output``).
    hidden_dim : composition width and the MLP's hidden layer (the paper: 300).
    num_classes : output classes (3 for SNLI).
    dropout : before the composition's BiLSTM and before each layer of the MLP (the paper: 0.5).
    """

    def __init__(self, input_dim: int, hidden_dim: int, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.align = SoftAlignment()
        self.compose = Composition(4 * input_dim, hidden_dim, dropout)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(4 * self.compose.output_dim, hidden_dim), nn.Tanh(),
            nn.Dropout(dropout), nn.Linear(hidden_dim, num_classes),
        )

    def forward(self, a: torch.Tensor, b: torch.Tensor, a_mask: torch.Tensor, b_mask: torch.Tensor) -> torch.Tensor:
        """Encoded premise ``a`` (batch, la, dim) and hypothesis ``b`` (batch, lb, dim), their masks → class
        logits (batch, num_classes)."""
        a_aligned, b_aligned = self.align(a, b, a_mask, b_mask)  # (batch, la, dim), (batch, lb, dim)
        v_a = self.compose(enhance(a, a_aligned), a_mask)  # (batch, la, 2 * hidden)
        v_b = self.compose(enhance(b, b_aligned), b_mask)  # (batch, lb, 2 * hidden)
        v = torch.cat([max_avg_pool(v_a, a_mask), max_avg_pool(v_b, b_mask)], -1)  # (batch, 8 * hidden)
        return self.classifier(v)  # (batch, num_classes)
