"""Fine-tune a biLM as a language model on a task's training text before the task trains (paper §5.4, Table 7).

``finetune_bilm`` trains the biLM (both directions, shared softmax) on the task's training sentences for ``epochs``
passes (labels ignored), measuring dev perplexity before and after, and leaves the biLM as it found it apart from the
new weights (train/eval mode and ``requires_grad`` flags restored), so the task can then train on top of it frozen.

Where the softmax comes from:

* ``softmax_source`` = a directory written by ``pretrain.py`` / ``export_lm`` (``lm_softmax.hdf5`` + ``vocab.txt``;
  the packaged default biLM has them): that softmax and vocabulary are loaded and fine-tuned with the biLM.  "before"
  is then the pretrained LM's dev perplexity.
* ``softmax_source=None`` (the published ELMo models ship no softmax): a **fresh softmax over the task's training
  vocabulary** is created and first trained alone for ``softmax_epochs`` passes with the biLM frozen (so the first LM
  gradients do not flow through a random softmax into the biLM); "before" is measured after that phase (a random
  softmax would only measure the vocabulary size), then biLM and softmax train together.  The result's
  ``softmax`` entry says which path ran.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Sequence

import torch

from elmo_lab.bilm.model import CharBiLMBase

from elmo_lab.lm.batching import EncodedCorpus

from elmo_lab.lm.loaders import make_loader
from elmo_lab.lm.export import has_softmax, load_softmax
from elmo_lab.lm.module import lm_nll
from elmo_lab.lm.perplexity import evaluate_perplexity
from elmo_lab.lm.softmax import FullSoftmax, make_softmax
from elmo_lab.data.vocab import Vocabulary
from elmo_lab.util.optim import make_optimizer

log = logging.getLogger(__name__)


def _train(bilm: CharBiLMBase, softmax: FullSoftmax, corpus: EncodedCorpus, params: list[torch.nn.Parameter],
           epochs: int, lr: float, batch_size: int, window: int, max_steps: int | None, optimizer: str,
           dropout: float, clip: float, seed: int) -> tuple[int, int]:
    """Plain LM training loop; returns (steps, forward predictions trained on)."""
    device = next(bilm.parameters()).device
    opt = make_optimizer(optimizer, params, lr, initial_accumulator=1.0, key="bilm.finetune optimizer")
    steps = tokens = 0
    for epoch in range(epochs):
        for batch in make_loader(corpus, window, batch_size, shuffle=True, seed=seed + epoch):
            if max_steps is not None and steps >= max_steps:
                return steps, tokens
            batch = batch.to(device)
            nll_f, nll_b, n_f, n_b = lm_nll(bilm, softmax, batch, dropout, training=True)
            loss = nll_f / max(n_f, 1) + nll_b / max(n_b, 1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(params, clip)
            opt.step()
            steps, tokens = steps + 1, tokens + n_f
    return steps, tokens


def finetune_bilm(bilm: CharBiLMBase, train_sentences: Sequence[Sequence[str]], dev_sentences: Sequence[Sequence[str]],
                  epochs: int = 1, lr: float = 0.2, batch_size: int = 32, max_steps: int | None = None,
                  softmax_source: str | Path | None = None, optimizer: str = "adagrad", softmax_epochs: int = 1,
                  window: int = 64, dropout: float = 0.1, clip: float = 10.0, vocab_max_size: int | None = 50000,
                  seed: int = 0, max_eval_sentences: int | None = None) -> dict[str, Any]:
    """Train ``bilm`` in place as an LM on ``train_sentences``; returns dev perplexities
    ``{"before": {forward, backward, average}, "after": {...}, "softmax": <which path>, "steps", "tokens", ...}``.

    ``lr`` / ``optimizer``: bilm-tf's Adagrad at 0.2 by default; ``max_steps`` caps the updates of the joint phase;
    ``vocab_max_size`` bounds a fresh task softmax (larger vocabularies use a sampled softmax).
    """
    train = [list(s) for s in train_sentences if len(s)]
    dev = [list(s) for s in dev_sentences if len(s)][:max_eval_sentences]
    if not train or not dev:
        raise ValueError("bilm fine-tuning needs non-empty training and dev sentences")
    device = next(bilm.parameters()).device
    dim = bilm.options.projection_dim
    was_training = bilm.training
    flags = [p.requires_grad for p in bilm.parameters()]
    try:
        if softmax_source is not None and has_softmax(softmax_source):
            softmax, vocab = load_softmax(softmax_source, dim)
            softmax = softmax.to(device)
            source = f"pretrained softmax from {softmax_source} ({len(vocab)} words)"
            prep_steps = 0
        else:
            vocab = Vocabulary.from_sentences(train, vocab_max_size)
            softmax = make_softmax(dim, len(vocab), num_samples=8192).to(device)
            for p in bilm.parameters():
                p.requires_grad_(False)
            bilm.eval()  # frozen biLM: no dropout inside it while the softmax learns
            corpus = EncodedCorpus(train, vocab, bilm.options.max_characters_per_token)
            prep_steps, _ = _train(bilm, softmax, corpus, list(softmax.parameters()), softmax_epochs, lr,
                                   batch_size, window, None, optimizer, 0.0, clip, seed)
            why = "no softmax_source" if softmax_source is None else f"{softmax_source} has no lm_softmax.hdf5"
            source = (f"fresh softmax over the task training vocabulary ({len(vocab)} words; {why}), trained "
                      f"{softmax_epochs} epoch(s) ({prep_steps} steps) with the biLM frozen before 'before'")
        log.info("biLM fine-tuning: %s", source)
        before = evaluate_perplexity(bilm, softmax, vocab, dev, window)
        log.info("biLM fine-tuning: dev perplexity before: %s", _fmt(before))
        params = list(bilm.parameters()) + list(softmax.parameters())
        for p in params:
            p.requires_grad_(True)
        bilm.train()
        corpus = EncodedCorpus(train, vocab, bilm.options.max_characters_per_token)
        steps, tokens = _train(bilm, softmax, corpus, params, epochs, lr, batch_size, window, max_steps, optimizer,
                               dropout, clip, seed)
        after = evaluate_perplexity(bilm, softmax, vocab, dev, window)
        log.info("biLM fine-tuning: dev perplexity after %d steps: %s", steps, _fmt(after))
    finally:
        for p, flag in zip(bilm.parameters(), flags):
            p.requires_grad_(flag)
        bilm.train(was_training)
    keys = ("forward", "backward", "average")
    return {"before": {k: before[k] for k in keys}, "after": {k: after[k] for k in keys}, "softmax": source,
            "vocab_size": len(vocab), "softmax_steps": prep_steps, "steps": steps, "tokens": tokens,
            "dev_predictions": after["n_predictions"]}


def _fmt(ppl: dict[str, float]) -> str:
    return " ".join(f"{k} {ppl[k]:.1f}" for k in ("forward", "backward", "average") if math.isfinite(ppl[k]))
