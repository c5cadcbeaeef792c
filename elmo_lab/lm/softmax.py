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

from elmo_lab.lm.batching import IGNORE


class SoftmaxNLL(torch.autograd.Function):
    """Summed NLL of ``targets`` under ``softmax(hidden W^T + b)``, with a hand-written backward pass.

    Why not ``F.cross_entropy(F.linear(...))``: at a 10k vocabulary its log-softmax, the NLL's zero-filled gradient
    and the log-softmax backward each make full passes over the ``(n, vocab)`` logits, which on CPU cost as much as the
    matmuls (``benchmarks/lm_throughput.py``).  Here the logits become the probabilities in place in the forward pass,
    and the backward pass turns them into ``p - onehot`` in place: the logits are written once and touched three
    times more.  Because of that, backward runs once per forward (no ``retain_graph``) and not twice differentiable.
    """

    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,  # type: ignore[override]
                targets: torch.Tensor) -> torch.Tensor:
        probs = torch.addmm(bias, hidden, weight.t())  # (n, vocab), logits for now
        target_logits = probs.gather(1, targets.unsqueeze(1)).squeeze(1)  # (n,)
        top = probs.amax(1, keepdim=True)  # (n, 1)
        probs.sub_(top).exp_()  # (n, vocab): exp(logit - top)
        total = probs.sum(1, keepdim=True)  # (n, 1)
        probs.div_(total)  # (n, vocab): softmax
        ctx.save_for_backward(hidden, weight, targets)
        ctx.probs = probs  # not saved for backward: the backward pass overwrites it
        return (top.squeeze(1) + total.squeeze(1).log() - target_logits).sum()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        hidden, weight, targets = ctx.saved_tensors
        probs, ctx.probs = ctx.probs, None
        if probs is None:
            raise RuntimeError("SoftmaxNLL: a second backward pass through the same loss (retain_graph) is not "
                               "supported; the first one consumed the probabilities")
        rows = torch.arange(targets.numel(), device=targets.device)  # (n,)
        probs[rows, targets] -= 1.0  # (n, vocab): d NLL / d logits = p - onehot, in place (used once)
        if grad.item() != 1.0:
            probs.mul_(grad)
        grad_hidden = probs @ weight if ctx.needs_input_grad[0] else None  # (n, dim)
        grad_weight = probs.t() @ hidden if ctx.needs_input_grad[1] else None  # (vocab, dim)
        grad_bias = probs.sum(0) if ctx.needs_input_grad[2] else None  # (vocab,)
        return grad_hidden, grad_weight, grad_bias, None


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
        if not torch.is_grad_enabled() or hidden.dtype != torch.float32 or hidden.is_cuda:
            # autograd's version where it is the better one: GPU kernels, autocast, no gradients (same sums)
            return F.cross_entropy(F.linear(hidden, self.weight, self.bias), targets, reduction="sum")
        return SoftmaxNLL.apply(hidden, self.weight, self.bias, targets)

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
