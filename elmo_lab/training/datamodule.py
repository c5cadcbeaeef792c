"""The data side every task shares: a word vocabulary, token → (word ids, encoder input) batching, seeded shuffling.

A task's datamodule subclasses ``ElmoDataModule`` and says how to read its splits (``load_splits``), which token
sequences an example has (``sequences_of``) and what tensors an example adds to a batch (``collate``).  What the
contextual encoder reads (character ids for the LSTM biLM) is built in the collate function by a callable the encoder
hands out (``ContextualEncoder.batch_input``), into ``batch["encoder_input"]``: the data side never knows which encoder
it is, and the model only sees tensors.  Lightning moves batches to the device whole (nested dicts included); token
lists stay on the host for what needs text (QA span decoding, the biLM cache).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from typing import Any, Callable, Iterable, Iterator, Sequence

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader, Sampler

from elmo_lab.bilm.chars import batch_to_char_ids
from elmo_lab.config.schema import train_subset_request
from elmo_lab.contextual.base import ENCODER_INPUT, BatchInput
from elmo_lab.data.splits import SPLITS
from elmo_lab.data.subsets import nested_subset, subset_size
from elmo_lab.data.vocab import Vocabulary
from elmo_lab.modules.word_embedding import PretrainedWords, pretrained_words


class EpochSeededSampler(Sampler[int]):
    """Shuffles with a generator seeded by ``(seed, epoch)``: the order of epoch ``e`` depends on nothing else, so a
    run resumed from a checkpoint sees the same batches as an uninterrupted one.  Lightning calls ``set_epoch``.
    Used under DDP, where Lightning wraps it in a distributed sampler.  (Why pretraining's mid-epoch resumable
    loaders, ``elmo_lab.lm.batching.ResumablePasses``, are a separate family: see there.)"""

    def __init__(self, n: int, seed: int, shuffle: bool = True) -> None:
        self.n, self.seed, self.shuffle, self.epoch = n, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            return iter(range(self.n))
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())

    def __len__(self) -> int:
        return self.n


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of similar length (the biLM's LSTMs run as many steps as the longest row, so this is ~3x faster
    than random batches), shuffled with a ``(seed, epoch)`` generator like ``EpochSeededSampler``.

    Training: shuffle, cut into pools of ``pool_batches`` batches, sort each pool by length, batch, shuffle the
    batches.  Evaluation (``shuffle=False``): sorted by length, in a fixed order.  ``epoch_fn`` (the trainer's
    ``current_epoch``) is read when an epoch's iteration starts: Lightning's ``set_epoch`` calls come too late for
    a batch sampler (the next epoch's iterator is made before them), which would repeat one order every epoch.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int, shuffle: bool = True,
                 pool_batches: int = 50, epoch_fn: Callable[[], int] | None = None) -> None:
        self.lengths, self.batch_size, self.seed, self.shuffle = list(lengths), batch_size, seed, shuffle
        self.pool_batches, self.epoch, self.epoch_fn = pool_batches, 0, epoch_fn

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[list[int]]:
        return self._batches()  # a generator: the epoch is read at the first batch, not when Lightning calls iter()

    def _batches(self) -> Iterator[list[int]]:
        n, size = len(self.lengths), self.batch_size
        if not self.shuffle:
            order = sorted(range(n), key=lambda i: self.lengths[i])
            yield from [order[i: i + size] for i in range(0, n, size)]
            return
        epoch = self.epoch_fn() if self.epoch_fn is not None else self.epoch
        g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        order = torch.randperm(n, generator=g).tolist()
        pool = size * self.pool_batches
        batches = []
        for start in range(0, n, pool):
            chunk = sorted(order[start: start + pool], key=lambda i: self.lengths[i])  # stable: ties keep order
            batches += [chunk[i: i + size] for i in range(0, len(chunk), size)]
        yield from [batches[i] for i in torch.randperm(len(batches), generator=g).tolist()]

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)


class WordVocabulary:
    """Task word ids over the training text: 0 = padding, then ``data.vocab.Vocabulary`` ids shifted by one
    (``<UNK>`` for unseen words).  ``lowercase`` folds case for the task embeddings only; the biLM sees the text."""

    pad_id = 0

    def __init__(self, sentences: Sequence[Sequence[str]], min_count: int = 1, lowercase: bool = True) -> None:
        self.lowercase = lowercase
        self.vocab = Vocabulary.from_sentences((self._norm(s) for s in sentences), min_count=min_count)

    def _norm(self, tokens: Sequence[str]) -> list[str]:
        return [t.lower() for t in tokens] if self.lowercase else list(tokens)

    normalise = _norm  # the tokens as the vocabulary holds them

    def extend(self, words: Iterable[str]) -> int:
        """Add (normalised) words not in the vocabulary yet, after the others; return how many were new."""
        before = len(self.vocab.words)
        for word in words:
            if word not in self.vocab.index:
                self.vocab.index[word] = len(self.vocab.words)
                self.vocab.words.append(word)
        return len(self.vocab.words) - before

    def __len__(self) -> int:
        return len(self.vocab) + 1

    def encode(self, sentences: Sequence[Sequence[str]]) -> torch.Tensor:
        """``(batch, max_len)`` word ids, 0-padded."""
        width = max(len(s) for s in sentences)
        rows = [[self.vocab.id(w) + 1 for w in self._norm(s)] for s in sentences]
        return torch.tensor([r + [0] * (width - len(r)) for r in rows], dtype=torch.long).view(len(rows), width)


class IndexedExamples(torch.utils.data.Dataset):
    """A split's examples as ``(index, example)`` pairs, so that each batch knows which examples it holds (test
    predictions are written in dataset order, also when several processes each saw a part)."""

    def __init__(self, examples: Sequence[Any]) -> None:
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> tuple[int, Any]:
        return i, self.examples[i]


class ElmoDataModule(pl.LightningDataModule, ABC):
    """Base datamodule: splits → training subset → vocabulary → batches with ``index``, and per token sequence
    ``tokens``, ``word_ids``, ``mask`` and (when needed) ``encoder_input`` and ``char_ids``.

    The training subset (``task.train_fraction`` or ``task.train_examples``; ``elmo_lab.data.subsets``) is taken
    here, once, for every task: a nested, seeded (``task.split_seed``, never the run's seed) subset of the train
    split, stratified by ``example.label`` when every example has one.  Dev and test stay whole.  Everything after
    it — the vocabulary, ``on_splits_loaded``, batches, fine-tuning text — sees only the subset; the biLM layer
    cache (``all_sequences``) still gets the whole train split (``full_train``), so its entry is the same for every
    fraction.

    # Parameters
    task : the ``task.*`` config (``batch_size``, ``eval_batch_size``, ``min_count``, ``lowercase``,
        ``num_workers``, ``data_dir`` and the task's own keys).
    seed : shuffling seed (the run's seed).
    encoder_input : builds what the contextual encoder reads, per token sequence (the pipeline passes
        ``ContextualLayers.batch_input``: set only when the encoder runs per batch); None: nothing is built.
    max_chars : characters per token in ``char_ids`` (for a task whose model reads characters itself).
    """

    #: a task whose model has its own character CNN sets this: ``char_ids`` in every batch, whatever the placement
    task_uses_char_ids: bool = False

    def __init__(self, task: Any, seed: int = 0, encoder_input: BatchInput | None = None, max_chars: int = 50) -> None:
        super().__init__()
        self.task = task if isinstance(task, DictConfig) else OmegaConf.create(task)
        self.seed, self.encoder_input, self.max_chars = seed, encoder_input, max_chars
        self.splits: dict[str, list] | None = None
        self.full_train: list | None = None  # the whole train split, before the subset
        self.vocab: WordVocabulary | None = None
        self.word_vectors: PretrainedWords | None = None  # task.word_vectors for the vocabulary
        self._subset_notes: dict[str, Any] = {}
        self.epoch = 0  # the training epoch when no Trainer drives this module (elmo_lab.probing.probe_set)

    # --- what a task provides -------------------------------------------------------------------------------
    @abstractmethod
    def load_splits(self) -> dict[str, list]:
        """Read the dataset: ``{"train": [...], "dev": [...], "test": [...]}`` of the task's example type."""

    def sequences_of(self, example: Any) -> list[list[str]]:
        """Every token sequence of an example that the vocabulary and the biLM read (``[tokens]`` for one sentence;
        ``[question, passage]`` for QA).  The one place a task names them: the biLM cache, the vocabulary,
        fine-tuning text and length bucketing all use it."""
        return [example.tokens]

    def on_splits_loaded(self) -> None:
        """Called once, right after the splits and the vocabulary exist: a task derives what it needs from them
        here (label sets, baselines, checks that a dev/test label occurs in train)."""

    def collate(self, examples: list) -> dict[str, Any]:
        """A batch for single-sequence tasks: ``encode_tokens`` plus ``labels`` (batch,) from ``example.label``."""
        batch = self.encode_tokens([self.sequences_of(e)[0] for e in examples])
        batch["labels"] = torch.tensor([e.label for e in examples], dtype=torch.long)  # (batch,)
        return batch

    # --- shared machinery -------------------------------------------------------------------------------------
    def encode_tokens(self, sentences: list[list[str]]) -> dict[str, Any]:
        """``tokens``, ``word_ids`` (batch, time), ``mask`` (batch, time); ``encoder_input`` when the contextual
        encoder runs per batch (what its ``batch_input`` builds; the task passes it to ``self.elmo.layers``); and
        for a task with its own character CNN (``task_uses_char_ids``) ``char_ids`` (batch, time + 2, max_chars):
        UTF-8 byte ids with begin/end-of-word markers and sentence boundaries (the CNN reads ``char_ids[:, 1:-1]``)."""
        word_ids = self.vocab.encode(sentences)  # (batch, time)
        batch: dict[str, Any] = {"tokens": sentences, "word_ids": word_ids, "mask": word_ids.ne(0)}
        if self.encoder_input is not None:
            batch[ENCODER_INPUT] = self.encoder_input(sentences)  # e.g. char ids (batch, time + 2, chars)
        if self.task_uses_char_ids:
            batch["char_ids"] = batch_to_char_ids(sentences, self.max_chars)  # (batch, time + 2, chars)
        return batch

    def _collate_indexed(self, pairs: list[tuple[int, Any]]) -> dict[str, Any]:
        batch = self.collate([example for _, example in pairs])
        batch["index"] = torch.tensor([i for i, _ in pairs], dtype=torch.long)  # (batch,)
        return batch

    def setup(self, stage: str | None = None) -> None:
        if self.splits is not None:
            return
        splits = self.load_splits()
        missing = [s for s in SPLITS if s not in splits]
        if missing:
            raise ValueError(f"{type(self).__name__}.load_splits returned no {', '.join(missing)} split")
        self.full_train = list(splits["train"])
        self.splits = {**splits, "train": self._train_subset(self.full_train)}
        self.vocab = WordVocabulary([s for e in self.splits["train"] for s in self.sequences_of(e)],
                                    min_count=self.task.get("min_count", 1),
                                    lowercase=self.task.get("lowercase", True))
        self.word_vectors = pretrained_words(self.task, self.vocab, self.splits, self.sequences_of, self.seed)
        self.on_splits_loaded()

    def _train_subset(self, train: list) -> list:
        """The training examples that ``task.train_fraction`` / ``task.train_examples`` keep, in file order."""
        fraction, examples = train_subset_request(self.task)
        size = subset_size(len(train), fraction, examples)
        labels = [getattr(e, "label", None) for e in train]
        stratified = bool(train) and all(isinstance(label, (int, str)) for label in labels)
        seed = int(self.task.get("split_seed", 0) or 0)
        kept = nested_subset(labels if stratified else len(train), size, seed)
        self._subset_notes = {
            "train_fraction": fraction if examples is None else size / max(len(train), 1),
            "train_examples": len(kept), "train_pool": len(train), "train_subset_seed": seed,
            "train_subset_stratified": stratified}
        return [train[i] for i in kept]

    def all_sequences(self) -> Iterator[list[str]]:
        """Every token sequence of every split, the whole train split included (what a biLM layer cache should
        hold: the same entry whatever the training subset)."""
        self.setup()
        full = {**self.splits, "train": self.full_train}
        return (s for split in SPLITS for e in full[split] for s in self.sequences_of(e))

    def data_sizes(self) -> dict[str, int]:
        self.setup()
        return {name: len(examples) for name, examples in self.splits.items()}

    def data_notes(self) -> dict:
        """What ``results.json`` should say about the data beyond split sizes (how splits were made, what a reader
        dropped or truncated); empty unless a task has something to say."""
        return {}

    def word_vector_notes(self) -> dict[str, Any]:
        """``{"word_vectors": coverage ...}`` for ``results.json`` (``data_notes``) with ``task.word_vectors``."""
        self.setup()
        return {"word_vectors": self.word_vectors.notes} if self.word_vectors is not None else {}

    def subset_notes(self) -> dict[str, Any]:
        """The training subset, for ``results.json`` (``data_notes``, every task): ``train_fraction`` (asked for; with
        ``task.train_examples``, kept / pool), ``train_examples`` (kept), ``train_pool`` (the whole train split),
        ``train_subset_seed`` and ``train_subset_stratified`` (by label)."""
        self.setup()
        return dict(self._subset_notes)

    def chance_levels(self) -> dict[str, float]:
        """``{"val/acc": ..., "test/acc": ...}``: the accuracy of always predicting the training subset's most
        frequent label, when every example has a ``label`` (classification); ``{}`` otherwise.  A task whose
        accuracy is not per example (token tagging) overrides it or leaves it empty."""
        self.setup()
        if not all(isinstance(getattr(e, "label", None), (int, str)) for split in SPLITS for e in self.splits[split]):
            return {}
        majority = Counter(e.label for e in self.splits["train"]).most_common(1)
        if not majority:
            return {}
        return {f"{name}/acc": sum(e.label == majority[0][0] for e in self.splits[split]) / len(self.splits[split])
                for name, split in (("val", "dev"), ("test", "test")) if self.splits[split]}

    def sentences(self, split: str) -> list[list[str]]:
        """The split's distinct token sequences in order of first appearance (biLM fine-tuning text)."""
        self.setup()
        seen: dict[tuple[str, ...], None] = {}
        for e in self.splits[split]:
            for s in self.sequences_of(e):
                seen.setdefault(tuple(s), None)
        return [list(s) for s in seen]

    def _loader(self, split: str, train: bool) -> DataLoader:
        self.setup()
        examples = IndexedExamples(self.splits[split])
        size = self.task.batch_size if train else self.task.get("eval_batch_size") or self.task.batch_size
        workers = self.task.get("num_workers", 0)
        common = dict(collate_fn=self._collate_indexed, num_workers=workers, persistent_workers=workers > 0)
        distributed = self.trainer is not None and self.trainer.world_size > 1
        if distributed and not train:  # each example once (Lightning's sampler would repeat some to even the ranks)
            from pytorch_lightning.overrides.distributed import UnrepeatedDistributedSampler

            sampler = UnrepeatedDistributedSampler(examples, num_replicas=self.trainer.world_size,
                                                   rank=self.trainer.global_rank, shuffle=False)
            return DataLoader(examples, batch_size=size, sampler=sampler, **common)
        if distributed:  # Lightning wraps the sampler in a DistributedSampler
            return DataLoader(examples, batch_size=size, sampler=EpochSeededSampler(len(examples), self.seed, train),
                              **common)
        lengths = [max(len(s) for s in self.sequences_of(e)) for e in self.splits[split]]
        sampler = BucketBatchSampler(lengths, size, self.seed, train, epoch_fn=self._current_epoch)
        return DataLoader(examples, batch_sampler=sampler, **common)

    def _current_epoch(self) -> int:
        return self.trainer.current_epoch if self.trainer is not None else self.epoch

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("dev", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)
