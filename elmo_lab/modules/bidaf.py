"""BiDAF layers (Seo et al. 2017, "Bidirectional Attention Flow for Machine Comprehension") for extractive QA.

Plain modules over already encoded tensors: the task runs word/char embeddings, ELMo and the shared contextual
encoder over passage and question itself (so ELMo can go before and/or after that encoder, as for every task), then
hands the encoded passage ``h`` (batch, passage_time, dim) and question ``u`` (batch, question_time, dim) to
:class:`BiDAFSpanPredictor`:

- bi-attention (:class:`BiAttention`): trilinear similarity S_tj = w·[h_t; u_j; h_t∘u_j], context-to-query
  attention ũ_t = Σ_j softmax_j(S_tj) u_j and query-to-context attention h̃ = Σ_t softmax_t(max_j S_tj) h_t,
  giving G = [h; ũ; h∘ũ; h∘h̃];
- optionally, the residual self-attention of Clark & Gardner (2017) on G (:class:`SelfAttention`), part of the
  improved BiDAF the ELMo paper used as its SQuAD baseline;
- the modelling layer M = BiLSTM(G) (two layers), start logits from [G; M], end logits from [G; M2] with
  M2 = BiLSTM(M), as in the paper.

Logits at padded passage positions are set to the dtype's most negative value, so no softmax gives them weight
and :func:`best_span` never picks them. :func:`span_loss` is the summed cross-entropy of the gold start and end.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from elmo_lab.modules.encoders import BiLSTMEncoder

__all__ = ["BiAttention", "BiDAFSpanPredictor", "SelfAttention", "TrilinearSimilarity", "best_span",
           "mask_logits", "masked_log_softmax", "masked_softmax", "span_loss"]


def mask_logits(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``logits`` with masked-out positions (``mask`` False, broadcast) set to the dtype's most negative value.

    A finite fill rather than ``-inf``: a row with no valid position stays finite (no NaN in softmax or its
    gradient), and the fill is representable in float16/bfloat16 too.
    """
    return logits.masked_fill(~mask, torch.finfo(logits.dtype).min)


def masked_softmax(logits: torch.Tensor, mask: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax over ``dim`` giving exactly 0 weight to masked-out positions; a row with none valid is all 0."""
    return torch.softmax(mask_logits(logits, mask), dim) * mask.to(logits.dtype)


def masked_log_softmax(logits: torch.Tensor, mask: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Log-softmax over the valid positions of ``dim``; masked-out ones get a huge negative (finite) value."""
    return torch.log_softmax(mask_logits(logits, mask), dim)


class TrilinearSimilarity(nn.Module):
    """S(a_i, b_j) = w·[a_i; b_j; a_i∘b_j] for every pair, without building the (Ta, Tb, 3·dim) tensor.

    No bias: every use normalises S with a softmax, which a constant shift does not change.

    # Parameters
    dim : width of both inputs.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(3 * dim)  # nn.Linear(3 * dim, 1)'s initialisation
        self.weight = nn.Parameter(torch.empty(3, dim).uniform_(-bound, bound))  # rows: w_a, w_b, w_ab

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``a`` (batch, Ta, dim), ``b`` (batch, Tb, dim) → similarities (batch, Ta, Tb)."""
        w_a, w_b, w_ab = self.weight  # (dim,) each
        a_term = (a @ w_a).unsqueeze(2)  # (batch, Ta, 1)
        b_term = (b @ w_b).unsqueeze(1)  # (batch, 1, Tb)
        ab_term = (a * w_ab) @ b.transpose(1, 2)  # (batch, Ta, Tb)
        return a_term + b_term + ab_term  # (batch, Ta, Tb)


class BiAttention(nn.Module):
    """BiDAF's attention flow layer: G = [h; ũ; h∘ũ; h∘h̃] (module docstring); ``output_dim = 4 * dim``.

    # Parameters
    dim : width of the encoded passage and question vectors.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.similarity = TrilinearSimilarity(dim)
        self.output_dim = 4 * dim

    def forward(self, h: torch.Tensor, u: torch.Tensor, h_mask: torch.Tensor, u_mask: torch.Tensor) -> torch.Tensor:
        """``h`` (batch, T, dim), ``u`` (batch, J, dim), masks (batch, T) / (batch, J) → G (batch, T, 4 * dim).

        Padded question words get no context-to-query weight, padded passage words no query-to-context weight;
        G is zero at padded passage positions.
        """
        similarity = self.similarity(h, u)  # (batch, T, J)
        c2q = masked_softmax(similarity, u_mask.unsqueeze(1), -1)  # (batch, T, J)
        attended_u = c2q @ u  # (batch, T, dim)
        best = mask_logits(similarity, u_mask.unsqueeze(1)).max(-1).values  # (batch, T)
        q2c = masked_softmax(best, h_mask, -1)  # (batch, T)
        attended_h = (q2c.unsqueeze(1) @ h).expand_as(h)  # (batch, T, dim): h̃ tiled over the passage
        g = torch.cat([h, attended_u, h * attended_u, h * attended_h], -1)  # (batch, T, 4 * dim)
        return g * h_mask.unsqueeze(-1).to(g.dtype)  # (batch, T, 4 * dim)


class SelfAttention(nn.Module):
    """Clark & Gardner (2017)'s residual self-attention: x + ReLU(W[s; a; s∘a] + b) with s = BiLSTM(x) and a the
    trilinear attention of s over itself, excluding each word's own position; ``output_dim = input_dim``.

    # Parameters
    input_dim : width of the input (and output) vectors.
    hidden_dim : LSTM cells per direction.
    dropout : on the LSTM input and the projection input.
    """

    def __init__(self, input_dim: int, hidden_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.encoder = BiLSTMEncoder(input_dim, hidden_dim)
        self.similarity = TrilinearSimilarity(2 * hidden_dim)
        self.project = nn.Sequential(nn.Linear(6 * hidden_dim, input_dim), nn.ReLU())
        self.dropout = nn.Dropout(dropout)
        self.output_dim = input_dim

    def attention(self, s: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Self-attention weights (batch, T, T) over ``s`` (batch, T, dim): 0 on the diagonal and in padded rows
        and columns."""
        time = s.size(1)
        not_self = ~torch.eye(time, dtype=torch.bool, device=s.device)  # (T, T)
        allowed = mask.unsqueeze(1) & mask.unsqueeze(2) & not_self  # (batch, T, T): t and j valid, j != t
        return masked_softmax(self.similarity(s, s), allowed, -1)  # (batch, T, T)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x`` (batch, T, input_dim), ``mask`` (batch, T) → (batch, T, input_dim), zero at padding."""
        s = self.encoder(self.dropout(x), mask)  # (batch, T, 2 * hidden)
        attended = self.attention(s, mask) @ s  # (batch, T, 2 * hidden)
        features = torch.cat([s, attended, s * attended], -1)  # (batch, T, 6 * hidden)
        out = x + self.project(self.dropout(features))  # (batch, T, input_dim)
        return out * mask.unsqueeze(-1).to(out.dtype)  # (batch, T, input_dim)


class BiDAFSpanPredictor(nn.Module):
    """Bi-attention, optional self-attention, modelling layer and span heads (module docstring).

    # Parameters
    encoded_dim : width of the encoded passage and question vectors (the shared contextual encoder's output,
        plus ELMo when it is placed there).
    modeling_dim : LSTM cells per direction in the modelling and end layers (the paper: 100).
    modeling_layers : layers of the modelling BiLSTM (the paper: 2).
    self_attention : add Clark & Gardner's residual self-attention layer after bi-attention.
    dropout : on the inputs of every LSTM and span head (the paper: 0.2).
    """

    def __init__(self, encoded_dim: int, modeling_dim: int, *, modeling_layers: int = 2,
                 self_attention: bool = False, dropout: float = 0.2) -> None:
        super().__init__()
        self.attention = BiAttention(encoded_dim)
        g_dim = self.attention.output_dim  # 4 * encoded_dim
        self.self_attention = SelfAttention(g_dim, modeling_dim, dropout) if self_attention else None
        self.modeling = BiLSTMEncoder(g_dim, modeling_dim, num_layers=modeling_layers, dropout=dropout)
        self.end_encoder = BiLSTMEncoder(2 * modeling_dim, modeling_dim)
        self.start_head = nn.Linear(g_dim + 2 * modeling_dim, 1, bias=False)  # no bias: softmax over positions
        self.end_head = nn.Linear(g_dim + 2 * modeling_dim, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, passage: torch.Tensor, question: torch.Tensor, passage_mask: torch.Tensor,
                question_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoded ``passage`` (batch, T, dim) and ``question`` (batch, J, dim) with their boolean masks →
        ``(start_logits, end_logits)``, each (batch, T), padded positions at the dtype's most negative value."""
        g = self.attention(passage, question, passage_mask, question_mask)  # (batch, T, 4 * dim)
        if self.self_attention is not None:
            g = self.self_attention(g, passage_mask)  # (batch, T, 4 * dim)
        m = self.modeling(self.dropout(g), passage_mask)  # (batch, T, 2 * modeling)
        m2 = self.end_encoder(self.dropout(m), passage_mask)  # (batch, T, 2 * modeling)
        start = self.start_head(self.dropout(torch.cat([g, m], -1))).squeeze(-1)  # (batch, T)
        end = self.end_head(self.dropout(torch.cat([g, m2], -1))).squeeze(-1)  # (batch, T)
        return mask_logits(start, passage_mask), mask_logits(end, passage_mask)  # (batch, T) each


def span_loss(start_logits: torch.Tensor, end_logits: torch.Tensor, mask: torch.Tensor,
              spans: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of −log p_start(s) − log p_end(e), softmax over the valid passage positions.

    # Parameters
    start_logits, end_logits : (batch, T).
    mask : (batch, T) boolean, True at real passage tokens.
    spans : (batch, 2) gold ``(start, end)`` token indices (inclusive), inside the valid positions.
    """
    start_log_probs = masked_log_softmax(start_logits.float(), mask)  # (batch, T)
    end_log_probs = masked_log_softmax(end_logits.float(), mask)  # (batch, T)
    gold_start = start_log_probs.gather(1, spans[:, :1]).squeeze(1)  # (batch,)
    gold_end = end_log_probs.gather(1, spans[:, 1:]).squeeze(1)  # (batch,)
    return -(gold_start + gold_end).mean()


def best_span(start_logits: torch.Tensor, end_logits: torch.Tensor, mask: torch.Tensor,
              max_answer_len: int = 17) -> torch.Tensor:
    """The ``(start, end)`` per row maximising log p_start + log p_end with ``start <= end`` and
    ``end - start < max_answer_len`` (the paper's decoding, with its 17-token limit), both at valid positions.

    Vectorised over the band of allowed ends only: memory is (batch, T, max_answer_len), not (batch, T, T). Ties
    go to the smallest start, then the smallest end; a row with no valid position gives ``(0, 0)``.

    # Parameters
    start_logits, end_logits : (batch, T).
    mask : (batch, T) boolean, True at real passage tokens.
    max_answer_len : the most tokens an answer may have (>= 1).

    Returns a long tensor (batch, 2).
    """
    if max_answer_len < 1:
        raise ValueError(f"max_answer_len={max_answer_len}: expected an integer >= 1")
    width = min(max_answer_len, start_logits.size(1))
    start_log_probs = masked_log_softmax(start_logits.float(), mask).masked_fill(~mask, -math.inf)  # (batch, T)
    end_log_probs = masked_log_softmax(end_logits.float(), mask).masked_fill(~mask, -math.inf)  # (batch, T)
    padded_end = F.pad(end_log_probs, (0, width - 1), value=-math.inf)  # (batch, T + width - 1)
    end_band = padded_end.unfold(1, width, 1)  # (batch, T, width): [b, i, k] = end_log_probs[b, i + k]
    scores = start_log_probs.unsqueeze(-1) + end_band  # (batch, T, width)
    flat = scores.flatten(1).argmax(-1)  # (batch,): index i * width + k, first maximum in (i, k) order
    start = torch.div(flat, width, rounding_mode="floor")  # (batch,)
    end = start + flat % width  # (batch,)
    return torch.stack([start, end], -1)  # (batch, 2)
