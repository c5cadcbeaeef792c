"""The LM softmax, shared by the forward and backward LMs: full, or sampled for large vocabularies.

``SampledSoftmax`` is TensorFlow's ``sampled_softmax_loss`` as bilm-tf used it (8,192 negatives over ~800k words):
negatives drawn once per batch from a log-uniform (Zipf) distribution over the frequency-sorted vocabulary, logits
corrected by ``-log(expected count)``, accidental hits (a negative equal to the target) removed.  In eval mode it
computes the full softmax, so perplexities are always exact.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .batching import IGNORE


class FullSoftmax(nn.Module):
    """``logits = h W^T + b`` over the whole vocabulary.  ``W`` ``(vocab, dim)``, ``b`` ``(vocab,)``."""

    def __init__(self, dim: int, vocab_size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(vocab_size, dim))
        self.bias = nn.Parameter(torch.zeros(vocab_size))
        nn.init.normal_(self.weight, std=1.0 / math.sqrt(dim))

    @property
    def vocab_size(self) -> int:
        return self.weight.size(0)

    def full_nll(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Summed exact NLL of ``targets`` ``(n,)`` given ``hidden`` ``(n, dim)``; ``IGNORE`` targets skipped."""
        keep = targets != IGNORE  # (n,)
        hidden, targets = hidden[keep], targets[keep]  # (k, dim), (k,)
        logits = F.linear(hidden, self.weight, self.bias)  # (k, vocab)
        return F.cross_entropy(logits, targets, reduction="sum")

    def forward(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Summed training loss (here: the exact NLL)."""
        return self.full_nll(hidden, targets)


class SampledSoftmax(FullSoftmax):
    """Full softmax weights, trained with ``num_samples`` log-uniform negatives per batch."""

    def __init__(self, dim: int, vocab_size: int, num_samples: int = 8192) -> None:
        super().__init__(dim, vocab_size)
        self.num_samples = min(num_samples, vocab_size)
        ids = torch.arange(vocab_size, dtype=torch.float64)
        probs = (torch.log(ids + 2) - torch.log(ids + 1)) / math.log(vocab_size + 1)  # (vocab,)
        self.register_buffer("log_probs", probs.float().log(), persistent=False)

    def _sample(self, device: torch.device) -> torch.Tensor:
        """``num_samples`` ids (with replacement) from P(k) = log((k+2)/(k+1)) / log(V+1)."""
        u = torch.rand(self.num_samples, device=device, dtype=torch.float64)
        ids = torch.floor(torch.exp(u * math.log(self.vocab_size + 1))) - 1  # inverse CDF
        return ids.long().clamp_(0, self.vocab_size - 1)  # (samples,)

    def forward(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return self.full_nll(hidden, targets)
        keep = targets != IGNORE
        hidden, targets = hidden[keep], targets[keep]  # (k, dim), (k,)
        sampled = self._sample(hidden.device)  # (s,)
        log_expected = math.log(self.num_samples)
        true_logits = (hidden * self.weight[targets]).sum(-1) + self.bias[targets]  # (k,)
        true_logits = true_logits - (self.log_probs[targets] + log_expected)
        sampled_logits = F.linear(hidden, self.weight[sampled], self.bias[sampled])  # (k, s)
        sampled_logits = sampled_logits - (self.log_probs[sampled] + log_expected)
        hits = targets.unsqueeze(1) == sampled.unsqueeze(0)  # (k, s)
        sampled_logits = sampled_logits.masked_fill(hits, float("-inf"))
        logits = torch.cat([true_logits.unsqueeze(1), sampled_logits], 1)  # (k, 1 + s)
        return F.cross_entropy(logits, torch.zeros_like(targets), reduction="sum")


def make_softmax(dim: int, vocab_size: int, sampled: bool | None = None, num_samples: int = 8192,
                 full_max_vocab: int = 20000) -> FullSoftmax:
    """Full softmax up to ``full_max_vocab`` words (or when ``sampled`` is False), sampled softmax beyond."""
    if sampled is None:
        sampled = vocab_size > full_max_vocab
    return SampledSoftmax(dim, vocab_size, num_samples) if sampled else FullSoftmax(dim, vocab_size)
