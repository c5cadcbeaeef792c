"""Stream batching (``data.batching=stream``): the corpus as one token stream, read in windows with LSTM state carried.

The alternative to the packed sentence rows of ``batching`` (see there), and the protocol of the PTB literature
(Zaremba et al. 2014, Kim et al. 2016: one continuous text, 35-step windows, state carried):

* The stream ``<S> w … </S> <S> w … </S> …`` is split into ``batch_size`` *segments*, one per batch row.  Row ``r`` of
  batch ``k`` holds window ``k`` (``window`` tokens) of segment ``r``; the biLM runs **stateful**, so every row starts
  from the state its previous window ended with: each prediction sees all the text before it in its segment.
* The backward LM reads each segment **from its end**, as its own input (``LMBatch.backward_char_ids``), with its own
  carried state.  (One input for both directions, as in ``BiLM.forward``, would hand the backward LM a state built
  from the words before its targets: the leak that rules stateful windows out for the packed rows.)
* Training segments are equal slices of the stream seen as a circle, from a random offset that changes each epoch (the
  only shuffling: windows must stay in order).  Evaluation segments are cut at sentence starts, so every scored
  prediction of the corpus is scored exactly once and the results do not depend on the window.
* Scored predictions are those of the packed rows: the forward LM does not predict ``<S>`` (after ``</S>``), the
  backward LM does not predict ``</S>`` (after ``<S>``); each sentence of ``n`` words gives ``n + 1`` of each.
* The first batch of each pass has ``reset_state`` set: ``lm_nll`` then starts both LSTM stacks from zeros.

On PTB (``benchmarks/pretrain_ptb.py``) a stream window scores more of its predictions than a packed row, but a
step costs more (the backward LM's input is other text, so the char CNN encodes more distinct tokens per batch) and
the model learned less per prediction, so ``rows`` stays the default: the figures are in docs/benchmarks.md
("Measurements behind the code").
"""
from __future__ import annotations

import math
from typing import Callable, Iterator

import numpy as np
import torch

from elmo_lab.lm.batching import IGNORE, EncodedCorpus, LMBatch, ResumablePasses

BOS_TYPE, EOS_TYPE = 0, 1  # type ids of <S> and </S> in ``EncodedCorpus.stream``


def sentence_segments(corpus: EncodedCorpus, n_rows: int) -> np.ndarray:
    """``(n, 2)`` ``[start, length]`` runs of whole consecutive sentences, about ``n_tokens / n_rows`` tokens each
    (``n <= n_rows``: never more rows than sentences)."""
    starts = corpus.sentence_starts
    if len(starts) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    targets = np.arange(n_rows) * (corpus.n_tokens / n_rows)  # ideal segment starts
    cuts = np.unique(starts[np.clip(np.searchsorted(starts, targets), 0, len(starts) - 1)])
    ends = np.append(cuts[1:], corpus.n_tokens)
    return np.stack([cuts, ends - cuts], 1).astype(np.int64)


def circular_segments(n_tokens: int, n_rows: int, offset: int) -> np.ndarray:
    """``(n_rows, 2)`` ``[start, length]`` equal slices of the stream read as a circle, the first from ``offset``."""
    length = n_tokens // n_rows
    if length < 2:
        raise ValueError(f"a stream of {n_tokens} tokens is too short for {n_rows} rows (data.batch_size)")
    starts = (offset + np.arange(n_rows) * length) % n_tokens
    return np.stack([starts, np.full(n_rows, length)], 1).astype(np.int64)


class StreamCollator:
    """Builds window ``k`` of every segment as an ``LMBatch`` with a separate backward input."""

    def __init__(self, corpus: EncodedCorpus, segments: np.ndarray, window: int) -> None:
        self.corpus, self.window = corpus, window
        self.starts = torch.from_numpy(segments[:, 0])  # (rows,)
        self.lengths = torch.from_numpy(segments[:, 1])  # (rows,)

    def __len__(self) -> int:
        """Windows per pass: enough to make every segment's ``length - 1`` predictions."""
        return max(math.ceil((int(self.lengths.max()) - 1) / self.window), 1) if len(self.lengths) else 0

    def _read(self, steps: torch.Tensor, from_end: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Type ids at segment steps ``steps`` ``(rows, time)`` read forwards or from the end; -1 past the segment."""
        real = steps < self.lengths.unsqueeze(1)  # (rows, time)
        offsets = self.lengths.unsqueeze(1) - 1 - steps if from_end else steps  # (rows, time)
        positions = (self.starts.unsqueeze(1) + offsets.clamp(min=0)) % self.corpus.n_tokens  # (rows, time)
        return torch.where(real, self.corpus.stream[positions], -1), real, positions

    def __call__(self, k: int) -> LMBatch:
        first = k * self.window
        time = int((self.lengths - first).clamp(min=0, max=self.window).max())
        steps = first + torch.arange(time + 1)  # (time + 1,): the window and the token after it
        steps = steps.unsqueeze(0).expand(len(self.lengths), -1)  # (rows, time + 1)
        inputs, targets = [], []
        for from_end, skip in ((False, BOS_TYPE), (True, EOS_TYPE)):
            types, real, _ = self._read(steps, from_end)  # (rows, time + 1)
            here, nxt = types[:, :-1], types[:, 1:]  # (rows, time)
            char_ids = self.corpus.char_table[here.clamp(min=0)].long() * real[:, :-1, None]  # (rows, time, chars)
            vocab_ids = self.corpus.type_to_vocab[nxt.clamp(min=0)]  # (rows, time)
            inputs.append(char_ids)
            targets.append(torch.where((here >= 0) & (nxt >= 0) & (nxt != skip), vocab_ids, IGNORE))
        return LMBatch(inputs[0], targets[0], targets[1], backward_char_ids=inputs[1], reset_state=k == 0)


class StreamLoader(ResumablePasses):
    """An iterable of stream-window ``LMBatch``es (one pass = one epoch), with a ``len``, as Lightning wants.

    ``shuffle`` (training): segments from a new random offset each pass, resumable mid-pass like the packed rows
    (``ResumablePasses``: a resumed pass continues after the last window trained on, and ``BiLMLanguageModel`` keeps
    the carried LSTM state in its checkpoints, so the windows after the resume point see the state they would have
    seen).  Distributed (``shard``), the stream is cut into ``batch_size × world_size`` segments and rank ``r`` reads
    segments ``r · batch_size …``, so the ranks read disjoint text.  Otherwise (evaluation) sentence-aligned
    segments, the same every pass and on every rank.
    """

    def __init__(self, corpus: EncodedCorpus, window: int, batch_size: int, shuffle: bool, seed: int = 0,
                 steps_done: Callable[[], int] | None = None,
                 shard: Callable[[], tuple[int, int]] | None = None) -> None:
        super().__init__(steps_done, shard)
        if window < 1:
            raise ValueError(f"window must be at least 1 token, got {window}")
        self.corpus, self.window, self.batch_size, self.shuffle, self.seed = corpus, window, batch_size, shuffle, seed
        self._eval_collator = None if shuffle else StreamCollator(corpus, sentence_segments(corpus, batch_size),
                                                                  window)
        if shuffle:
            circular_segments(corpus.n_tokens, batch_size, 0)  # fail now if the stream is too short

    def _collator(self, epoch: int) -> StreamCollator:
        """Pass ``epoch``'s segments of this rank: ``batch_size`` of the ``batch_size × world_size`` equal slices."""
        if self._eval_collator is not None:
            return self._eval_collator
        rank, world = self.shard()
        offset = int(np.random.default_rng(self.seed + epoch).integers(self.corpus.n_tokens))
        segments = circular_segments(self.corpus.n_tokens, self.batch_size * world, offset)
        return StreamCollator(self.corpus, segments[rank * self.batch_size: (rank + 1) * self.batch_size],
                              self.window)

    def __len__(self) -> int:
        if self._eval_collator is not None:
            return len(self._eval_collator)
        return len(self._collator(0))  # every pass and rank: segments of the same length

    def __iter__(self) -> Iterator[LMBatch]:
        if self._eval_collator is not None:
            return (self._eval_collator(k) for k in range(len(self._eval_collator)))
        return super().__iter__()

    def _batches(self, epoch: int, skip: int) -> Iterator[LMBatch]:
        collator = self._collator(epoch)
        return (collator(k) for k in range(skip, len(collator)))
