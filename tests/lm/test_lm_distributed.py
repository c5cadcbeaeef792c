"""Distributed pretraining (``pretrain.py trainer=ddp_sim``): each rank trains on its own share of every epoch (packed
rows and stream windows alike), ``tokens_seen`` counts every rank's predictions, and rank 0 alone evaluates and
exports."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from elmo_lab.lm.batching import EncodedCorpus

from elmo_lab.lm.loaders import make_loader
from elmo_lab.lm.corpora import CorpusError, CorpusSpec, load_corpus
from elmo_lab.data.vocab import Vocabulary

REPO = Path(__file__).resolve().parents[2]


def _corpus(tiny_sentences: list[list[str]]) -> EncodedCorpus:
    return EncodedCorpus(tiny_sentences, Vocabulary.from_sentences(tiny_sentences))


def _rows(batch) -> list[tuple]:
    """Each row of a batch as a hashable fingerprint (its char ids)."""
    return [tuple(row.flatten().tolist()) for row in batch.char_ids]


def test_each_rank_trains_on_its_own_rows_and_together_they_cover_the_epoch(tiny_sentences):
    corpus = _corpus(tiny_sentences)
    single = make_loader(corpus, 16, 8, shuffle=True, seed=0)
    ranks = [make_loader(corpus, 16, 8, shuffle=True, seed=0, shard=lambda r=r: (r, 3)) for r in range(3)]
    for loader in (single, *ranks):
        loader.collate = lambda rows: rows  # the packed-row indices of each batch instead of the batch
    assert len({len(loader) for loader in ranks}) == 1 and len(ranks[0]) == len(single) // 3
    everything = [i for batch in single for i in batch]
    together = [i for loader in ranks for batch in loader for i in batch]
    assert len(together) == len(set(together))  # disjoint
    assert set(together) <= set(everything) and len(together) >= len(everything) - 2 * 8  # all but the remainder
    with pytest.raises(CorpusError, match="data.batch_size: .* cannot be shared by 1000 processes"):
        len(make_loader(corpus, 16, 8, shuffle=True, seed=0, shard=lambda: (0, 1000)))


def test_each_rank_reads_its_own_stream_segments(tiny_sentences):
    corpus = _corpus(tiny_sentences)
    ranks = [make_loader(corpus, 8, 4, shuffle=True, seed=0, batching="stream", shard=lambda r=r: (r, 2))
             for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) > 0
    first = [next(iter(loader)) for loader in ranks]
    assert all(batch.reset_state and batch.char_ids.size(0) == 4 for batch in first)
    assert set(_rows(first[0])).isdisjoint(_rows(first[1]))
    both = make_loader(corpus, 8, 8, shuffle=True, seed=0, batching="stream")  # one process, 8 segments
    assert _rows(next(iter(both))) == _rows(first[0]) + _rows(first[1])


@pytest.mark.slow
def test_pretrain_py_on_two_cpu_processes(tmp_path: Path, tiny_corpus_path: Path) -> None:
    """Stream batching: the sharded segments, the carried state and the summed counts in one run (the packed rows'
    sharding is checked above without processes)."""
    run_dir, batching = tmp_path / "run", "stream"
    cmd = [sys.executable, "pretrain.py", "corpus=file", f"corpus.path={tiny_corpus_path}", "bilm_arch=tiny",
           "trainer=ddp_sim", "trainer.max_epochs=1", "data.batch_size=8", f"data.batching={batching}",
           "logger=csv", f"hydra.run.dir={run_dir}", "threads=1", "trainer.enable_progress_bar=false"]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert out.count("exported to") == 1 and out.count("valid perplexity") == 1 and out.count("corpus file:") == 1
    assert (run_dir / "train_ddp_process_1.log").is_file()  # the second rank ran pretrain.py too
    meta = json.loads((run_dir / "model" / "lm_metadata.json").read_text())
    train = _corpus(load_corpus(CorpusSpec(name="file", path=str(tiny_corpus_path)))["train"])
    predictions = train.n_predictions  # forward predictions of one epoch
    loader = make_loader(train, 64, 8, shuffle=True, batching=batching, shard=lambda: (0, 2))
    # each rank made its share of the steps (about half of one process's); together they saw the epoch once
    assert meta["global_steps"] == len(loader)
    assert 0.8 * predictions < meta["tokens_seen"] <= predictions, (meta["tokens_seen"], predictions)


def test_only_rank_0_takes_the_checkpointed_stream_state(tiny_options):
    """A checkpoint holds rank 0's carried LSTM state; another rank's segments are other text, so it restarts its
    state from zeros rather than continue from rank 0's."""
    import torch

    from elmo_lab.lm.module import CARRIED_STATE, BiLMLanguageModel

    saved = {CARRIED_STATE: ([(torch.ones(2, 16), torch.ones(2, 8))] * 2, [(torch.ones(2, 16), torch.ones(2, 8))] * 2)}
    for rank, expected in ((0, saved[CARRIED_STATE]), (1, (None, None))):
        model = BiLMLanguageModel(tiny_options, 10)
        model._trainer = type("Trainer", (), {"global_rank": rank})()  # what the strategy says when it restores
        model.on_load_checkpoint(saved)
        assert model.bilm.carried_state == expected
