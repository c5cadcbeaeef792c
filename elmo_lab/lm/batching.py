"""Turn sentences into LM batches: ``rows`` (the default, here) packs whole sentences into stateless rows; ``stream``
(``streams.py``) reads the text as one stream per batch row with the LSTM state carried.

Packed rows (``data.batching=rows``):

* Every sentence becomes ``<S> w_1 … w_n </S>`` in one continuous stream (corpus order).
* The stream is cut into **rows of at most ``window`` tokens made of whole consecutive sentences** (greedy packing);
  a sentence longer than ``window`` is cut into windows that overlap by one token, so every prediction inside it is
  still made exactly once.  Rows are shuffled each epoch; within a row the sentences keep their corpus order.
* The biLM runs **stateless** (zero state at each row start), through ``BiLM.forward`` — one input for both
  directions, the backward LSTM reading each row reversed — which is how the biLM is used downstream (zero state, one
  sentence at a time): these perplexities are those of the embedding setting.  Carrying state across such rows is
  not possible: the backward LM would start a row from a state built from the words before its targets.
  ``streams`` carries state by giving the backward LM its own input instead.
* Cost: rows are padded (how much on PTB: docs/benchmarks.md, "Measurements behind the code"); the LSTM
  recurrence skips each row's padding (``elmo_lab/bilm/recurrence.py``), the other layers do not.
* Targets: forward LM at position t predicts token t+1, backward LM at t predicts t-1, inside the row only.  The
  trivial predictions across a sentence boundary (``</S>`` → next ``<S>``) are not scored, so each sentence
  contributes n+1 forward predictions (w_1 … w_n, ``</S>``) and n+1 backward ones (w_n … w_1, ``<S>``) — the usual
  perplexity convention (PTB counts the end-of-sentence token).

Rows are the default because they trained the better LM on PTB in the same time (docs/benchmarks.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from elmo_lab.bilm.chars import BOS_TOKEN, EOS_TOKEN, token_to_char_ids

from elmo_lab.lm.corpora import CorpusError
from elmo_lab.data.vocab import Vocabulary

IGNORE = -100  # target id that the loss skips


@dataclass
class LMBatch:
    """char_ids ``(batch, time, max_chars)``; forward_targets / backward_targets ``(batch, time)`` vocab ids or
    ``IGNORE``.

    Stream windows (``streams``) also carry ``backward_char_ids`` ``(batch, time, max_chars)``: the backward LM's own
    input, already in its reading order, to which ``backward_targets`` are aligned; they are run statefully and
    ``reset_state`` marks the first window of a pass.
    """

    char_ids: torch.Tensor
    forward_targets: torch.Tensor
    backward_targets: torch.Tensor
    backward_char_ids: torch.Tensor | None = None
    reset_state: bool = False

    def to(self, device: torch.device | str) -> "LMBatch":
        backward = None if self.backward_char_ids is None else self.backward_char_ids.to(device)
        return LMBatch(self.char_ids.to(device), self.forward_targets.to(device), self.backward_targets.to(device),
                       backward, self.reset_state)

    @property
    def n_predictions(self) -> int:
        return int((self.forward_targets != IGNORE).sum())


class EncodedCorpus:
    """Sentences encoded once: a stream of token-type ids, a char-id table per type and each type's vocab id."""

    def __init__(self, sentences: Sequence[Sequence[str]], vocab: Vocabulary, max_chars: int = 50) -> None:
        type_ids = {BOS_TOKEN: 0, EOS_TOKEN: 1}
        stream: list[int] = []
        starts, lengths = [], []
        for sentence in sentences:
            if not sentence:
                continue
            starts.append(len(stream))
            stream.append(0)
            for token in sentence:
                tid = type_ids.get(token)
                if tid is None:
                    tid = type_ids[token] = len(type_ids)
                stream.append(tid)
            stream.append(1)
            lengths.append(len(sentence) + 2)
        types = list(type_ids)
        self.stream = torch.tensor(stream, dtype=torch.long)  # (n_tokens,)
        self.sentence_starts = np.asarray(starts, dtype=np.int64)
        self.sentence_lengths = np.asarray(lengths, dtype=np.int64)
        self.char_table = torch.tensor([token_to_char_ids(t, max_chars) for t in types],
                                       dtype=torch.int16)  # (n_types, max_chars)
        self.type_to_vocab = torch.tensor([vocab.id(t) for t in types], dtype=torch.long)  # (n_types,)
        self.n_types = len(types)

    @property
    def n_tokens(self) -> int:
        """Tokens in the stream, ``<S>``/``</S>`` included."""
        return int(self.stream.numel())

    @property
    def n_predictions(self) -> int:
        """Scored predictions per direction: words + one boundary token per sentence."""
        return int((self.sentence_lengths - 1).sum())


def pack_rows(starts: np.ndarray, lengths: np.ndarray, window: int) -> np.ndarray:
    """Greedy packing of consecutive sentences into ``(n_rows, 2)`` ``[start, length]`` stream slices of at most
    ``window`` tokens; longer sentences are cut into windows overlapping by one token."""
    if window < 2:
        raise ValueError(f"window must be at least 2 tokens, got {window}")
    rows: list[tuple[int, int]] = []
    cur_start, cur_len = -1, 0
    for s, n in zip(starts.tolist(), lengths.tolist()):
        if n > window:
            if cur_len:
                rows.append((cur_start, cur_len))
            pos, end = s, s + n
            while end - pos > window:
                rows.append((pos, window))
                pos += window - 1
            cur_start, cur_len = pos, end - pos
        elif cur_len and cur_len + n <= window and cur_start + cur_len == s:
            cur_len += n
        else:
            if cur_len:
                rows.append((cur_start, cur_len))
            cur_start, cur_len = s, n
    if cur_len:
        rows.append((cur_start, cur_len))
    return np.asarray(rows, dtype=np.int64).reshape(-1, 2)


class RowCollator:
    """Builds an ``LMBatch`` from row indices of ``rows`` over ``corpus``."""

    def __init__(self, corpus: EncodedCorpus, rows: np.ndarray) -> None:
        self.corpus, self.rows = corpus, rows

    def __call__(self, indices: Sequence[int]) -> LMBatch:
        rows = self.rows[np.asarray(indices)]
        lengths = torch.from_numpy(rows[:, 1])  # (batch,)
        time = int(lengths.max())
        steps = torch.arange(time)  # (time,)
        real = steps.unsqueeze(0) < lengths.unsqueeze(1)  # (batch, time)
        positions = (torch.from_numpy(rows[:, :1]) + steps).clamp(max=self.corpus.n_tokens - 1)  # (batch, time)
        types = torch.where(real, self.corpus.stream[positions], -1)  # (batch, time), -1 = padding
        char_ids = self.corpus.char_table[types.clamp(min=0)].long() * real.unsqueeze(-1)  # (batch, time, chars)
        vocab_ids = self.corpus.type_to_vocab[types.clamp(min=0)]  # (batch, time)
        ignore = torch.full_like(vocab_ids[:, :1], IGNORE)  # (batch, 1)
        nxt_type, prev_type = types[:, 1:], types[:, :-1]
        forward = torch.where((nxt_type >= 0) & (nxt_type != 0), vocab_ids[:, 1:], IGNORE)  # not <S>, not pad
        backward = torch.where((prev_type >= 0) & (prev_type != 1), vocab_ids[:, :-1], IGNORE)  # not </S>
        forward = torch.cat([forward, ignore], 1) .masked_fill(~real, IGNORE)  # (batch, time)
        backward = torch.cat([ignore, backward], 1).masked_fill(~real, IGNORE)  # (batch, time)
        return LMBatch(char_ids, forward, backward)


class RowDataset(torch.utils.data.Dataset):
    """Row indices; the ``RowCollator`` does the work (cheap tensor gathers, no worker processes needed)."""

    def __init__(self, n_rows: int) -> None:
        self.n_rows = n_rows

    def __len__(self) -> int:
        return self.n_rows

    def __getitem__(self, index: int) -> int:
        return index


class ResumablePasses:
    """Training passes (epochs) over ``len(self)`` batches that a checkpoint can stop and resume **mid-pass**.

    Why not a plain ``DataLoader``: a run resumed from a mid-epoch checkpoint would start its epoch over, re-reading
    the batches it had already trained on (a biLM pretraining run of well under one epoch would see its first batches
    several times and never reach the rest).  Lightning saves ``state_dict()`` in checkpoints and hands it back to
    ``load_state_dict`` on resume (its ``_Stateful`` protocol); the next pass then continues the same epoch after the
    last batch trained on.  Subclasses yield from ``_batches(epoch, skip)``: pass ``epoch`` without its first
    ``skip`` batches, each pass reproducible from ``epoch`` alone.

    ``steps_done`` (the trainer's ``global_step``) says how many batches were trained on: a count of the batches
    handed out would be ahead by Lightning's prefetched batch.  Without it (plain loops) the handed-out count is used.

    ``shard`` (distributed training) gives ``(rank, world_size)``: each process then trains on its own share of every
    pass (subclasses say how), all with the same number of batches, as DDP needs; asked when a pass starts, since the
    trainer knows the ranks only by then.

    Why the task samplers (``elmo_lab.training.datamodule``: ``EpochSeededSampler``, ``BucketBatchSampler``) do not
    share this base: they are ``Sampler``s of example indices inside a ``DataLoader`` (worker processes, Lightning's
    ``DistributedSampler`` wrapped around them under DDP), and a task run checkpoints only at epoch ends, so an order
    that is a function of ``(seed, epoch)`` is all its resume needs.  These passes replace the ``DataLoader`` (a
    pretraining run checkpoints every few minutes, mid-epoch, and shards itself); a shared base would make the task
    loaders give that up, and its one common line, the ``(seed, epoch)`` generator, is seeded differently on each side
    (here: what a shuffling ``DataLoader`` draws; there: ``seed * 100_003 + epoch``), so unifying it would change the
    batch order, and the results, of every task run.
    """

    def __init__(self, steps_done: Callable[[], int] | None = None,
                 shard: Callable[[], tuple[int, int]] | None = None) -> None:
        self.steps_done = steps_done
        self.shard = shard if shard is not None else lambda: (0, 1)
        self.epoch, self.skip = 0, 0  # the pass that the next iter() runs, and the batches of it already trained on
        self._current: tuple[int, int] | None = None  # (epoch, step counter at its start) of the running pass
        self._handed_out = 0

    def __len__(self) -> int:
        raise NotImplementedError

    def _batches(self, epoch: int, skip: int) -> Iterator[LMBatch]:
        raise NotImplementedError

    def __iter__(self) -> Iterator[LMBatch]:
        epoch, skip = self.epoch, self.skip
        self.epoch, self.skip = epoch + 1, 0
        start = self.steps_done() if self.steps_done is not None else 0
        self._current, self._handed_out = (epoch, start - skip), skip
        for batch in self._batches(epoch, skip):
            self._handed_out += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        if self._current is None:
            return {"epoch": self.epoch, "batches_done": self.skip}
        epoch, start = self._current
        done = self.steps_done() - start if self.steps_done is not None else self._handed_out
        return {"epoch": epoch, "batches_done": done}

    def load_state_dict(self, state: dict[str, int]) -> None:
        epoch, done = int(state["epoch"]), int(state["batches_done"])
        self.epoch, self.skip = (epoch + 1, 0) if done >= len(self) else (epoch, done)
        self._current = None


class ShuffledRows(ResumablePasses):
    """Training batches of packed rows in a fresh random order each epoch, resumable mid-epoch (``ResumablePasses``).

    Epoch ``e``'s order is exactly the one a ``DataLoader(shuffle=True, generator=torch.Generator().manual_seed(seed))``
    gives in its ``e``-th pass (``order``), so runs from scratch see the same batches as with that DataLoader.
    Distributed (``shard``), rank ``r`` of ``W`` takes batches ``r, r + W, r + 2W, …`` of that order, and the last
    ``n_batches % W`` batches of the epoch are left out so that every rank has as many.
    """

    def __init__(self, collate: RowCollator, n_rows: int, batch_size: int, seed: int,
                 steps_done: Callable[[], int] | None = None,
                 shard: Callable[[], tuple[int, int]] | None = None) -> None:
        super().__init__(steps_done, shard)
        self.collate, self.n_rows, self.batch_size, self.seed = collate, n_rows, batch_size, seed

    def __len__(self) -> int:
        world = self.shard()[1]
        n_batches = -(-self.n_rows // self.batch_size)
        if n_batches < world:
            raise CorpusError(f"data.batch_size: {n_batches} training batches per epoch cannot be shared by "
                              f"{world} processes; use a smaller batch size or fewer devices")
        return n_batches // world

    def order(self, epoch: int) -> torch.Tensor:
        """``(n_rows,)`` row order of ``epoch``: the generator draws what a ``DataLoader`` with a ``RandomSampler``
        draws per epoch (the workers' base seed, the permutation, and the sampler's empty remainder permutation)."""
        generator = torch.Generator().manual_seed(self.seed)
        for _ in range(epoch + 1):
            torch.empty((), dtype=torch.int64).random_(generator=generator)  # DataLoader iterator's base seed
            order = torch.randperm(self.n_rows, generator=generator)
            torch.randperm(self.n_rows, generator=generator)  # RandomSampler: remainder of num_samples % n
        return order

    def _batches(self, epoch: int, skip: int) -> Iterator[LMBatch]:
        order = self.order(epoch).tolist()
        rank, world = self.shard()
        for k in range(skip, len(self)):
            first = (k * world + rank) * self.batch_size
            yield self.collate(order[first: first + self.batch_size])
