"""The one way to batch a corpus for the biLM's language models: packed sentence rows (``elmo_lab.lm.batching``) or
windows of one stream with the LSTM state carried (``elmo_lab.lm.streams``), as ``data.batching`` chooses."""
from __future__ import annotations

from typing import Callable, Iterable

import torch

from elmo_lab.config.choices import BATCHINGS
from elmo_lab.lm.batching import EncodedCorpus, LMBatch, RowCollator, RowDataset, ShuffledRows, pack_rows
from elmo_lab.lm.streams import StreamLoader


def make_loader(corpus: EncodedCorpus, window: int, batch_size: int, shuffle: bool, seed: int = 0,
                batching: str = "rows", steps_done: Callable[[], int] | None = None,
                shard: Callable[[], tuple[int, int]] | None = None) -> Iterable[LMBatch]:
    """``LMBatch``es of ``corpus``: packed sentence rows (shuffled each epoch when ``shuffle``: ``ShuffledRows``), or
    ``stream`` windows with carried state (``streams``); training loaders (``shuffle``) resume mid-epoch and take
    their rank's share of each pass when ``shard`` gives ``(rank, world_size)``."""
    if batching == "stream":
        return StreamLoader(corpus, window, batch_size, shuffle, seed, steps_done, shard)
    if batching != "rows":
        raise ValueError(f"batching must be one of {', '.join(BATCHINGS)}; got {batching!r}")
    rows = pack_rows(corpus.sentence_starts, corpus.sentence_lengths, window)
    if shuffle:
        return ShuffledRows(RowCollator(corpus, rows), len(rows), batch_size, seed, steps_done, shard)
    return torch.utils.data.DataLoader(RowDataset(len(rows)), batch_size=batch_size, shuffle=False,
                                       collate_fn=RowCollator(corpus, rows))
