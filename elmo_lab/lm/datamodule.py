"""Lightning data module for LM pretraining: corpus → vocabulary → packed sentence rows (``batching``) or stream
windows (``streams``)."""
from __future__ import annotations

from typing import Any, Iterable

import pytorch_lightning as pl
from elmo_lab.config.choices import BATCHINGS
from elmo_lab.lm.batching import EncodedCorpus, LMBatch
from elmo_lab.lm.loaders import make_loader
from elmo_lab.lm.corpora import CorpusSpec, Sentences, load_corpus, lowercase_sentences
from elmo_lab.lm.module import LMConfigError
from elmo_lab.data.vocab import Vocabulary


class LMDataModule(pl.LightningDataModule):
    """# Parameters
    corpus : a ``CorpusSpec`` or its dict (``conf/corpus/*.yaml``).
    vocab_max_size / vocab_min_count : which training words the softmax predicts (``<S> </S> <UNK>`` included in the
        size); ``vocab_path`` uses a given ``vocab.txt`` instead (e.g. to continue training an exported LM).
    batching : ``rows`` (packed whole sentences, stateless) or ``stream`` (windows of one stream, state carried).
    window : tokens per row / window; batch_size : rows per training batch (eval: ``eval_batch_size``).
    max_valid_sentences : evaluate on the first N dev sentences only (full-softmax evaluation is costly on CPU).
    lowercase_share : case augmentation; this share of the training sentences, drawn once by ``seed``, is lowercased
        before the vocabulary is counted (``lowercase_sentences``).  Dev and test are never changed.
    """

    def __init__(self, corpus: CorpusSpec | dict[str, Any], vocab_max_size: int | None = None,
                 vocab_min_count: int = 1, vocab_path: str | None = None, window: int = 64, batch_size: int = 32,
                 eval_batch_size: int = 64, max_valid_sentences: int | None = None, seed: int = 0,
                 max_chars: int = 50, batching: str = "rows", lowercase_share: float = 0.0) -> None:
        super().__init__()
        if batching not in BATCHINGS:
            raise LMConfigError(f"data.batching must be one of {', '.join(BATCHINGS)}; got {batching!r}")
        if not 0 <= lowercase_share <= 1:
            raise LMConfigError(f"data.lowercase_share must be in [0, 1]; got {lowercase_share}")
        self.batching, self.lowercase_share = batching, lowercase_share
        self.spec = corpus if isinstance(corpus, CorpusSpec) else CorpusSpec(**corpus)
        self.vocab_max_size, self.vocab_min_count, self.vocab_path = vocab_max_size, vocab_min_count, vocab_path
        self.window, self.batch_size, self.eval_batch_size = window, batch_size, eval_batch_size
        self.max_valid_sentences, self.seed, self.max_chars = max_valid_sentences, seed, max_chars
        self.splits: dict[str, Sentences] | None = None
        self.vocab: Vocabulary | None = None
        self.encoded: dict[str, EncodedCorpus] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits is not None:
            return
        splits = load_corpus(self.spec)
        if self.lowercase_share > 0:
            splits["train"] = lowercase_sentences(splits["train"], self.lowercase_share, self.seed)
        if self.max_valid_sentences is not None:
            splits["valid"] = splits["valid"][: self.max_valid_sentences]
        if self.vocab_path:
            self.vocab = Vocabulary.load(self.vocab_path)
        else:
            self.vocab = Vocabulary.from_sentences(splits["train"], self.vocab_max_size, self.vocab_min_count)
        self.splits = splits
        self.encoded = {name: EncodedCorpus(s, self.vocab, self.max_chars) for name, s in splits.items()}

    def describe(self) -> dict[str, Any]:
        """Sizes for logs and metadata."""
        assert self.vocab is not None
        return {"vocab_size": len(self.vocab),
                **{f"{k}_words": e.n_predictions - len(e.sentence_lengths) for k, e in self.encoded.items()},
                **{f"{k}_sentences": len(e.sentence_lengths) for k, e in self.encoded.items()}}

    def train_dataloader(self) -> Iterable[LMBatch]:
        return make_loader(self.encoded["train"], self.window, self.batch_size, shuffle=True, seed=self.seed,
                           batching=self.batching, steps_done=self._steps_done, shard=self._shard)

    def _steps_done(self) -> int:
        """Optimizer steps so far (one per training batch): where a resumed run's loader picks up its epoch."""
        return self.trainer.global_step if self.trainer is not None else 0

    def _shard(self) -> tuple[int, int]:
        """``(rank, world_size)`` of this process: under DDP each rank trains on its own share of every epoch."""
        return (self.trainer.global_rank, self.trainer.world_size) if self.trainer is not None else (0, 1)

    def val_dataloader(self) -> Iterable[LMBatch]:
        return make_loader(self.encoded["valid"], self.window, self.eval_batch_size, shuffle=False,
                           batching=self.batching)

    def test_dataloader(self) -> Iterable[LMBatch]:
        return make_loader(self.encoded["test"], self.window, self.eval_batch_size, shuffle=False,
                           batching=self.batching)
