"""A pretraining run resumed from a mid-epoch checkpoint continues its epoch where it stopped (``ShuffledRows``),
instead of starting the epoch over and re-reading batches it already trained on."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from elmo_lab.lm.batching import EncodedCorpus, RowCollator, RowDataset, ShuffledRows, make_loader, pack_rows
from elmo_lab.lm.vocab import Vocabulary

REPO = Path(__file__).resolve().parents[2]


def _corpus(tiny_sentences: list[list[str]]) -> EncodedCorpus:
    return EncodedCorpus(tiny_sentences, Vocabulary.from_sentences(tiny_sentences))


def _ids(batches) -> list[list[int]]:
    return [b.char_ids[:, 1, 2].tolist() for b in batches]  # a cheap fingerprint of each batch's rows


def test_epochs_follow_the_dataloader_order_of_the_same_seed(tiny_sentences):
    corpus = _corpus(tiny_sentences)
    rows = pack_rows(corpus.sentence_starts, corpus.sentence_lengths, 16)
    reference = torch.utils.data.DataLoader(RowDataset(len(rows)), batch_size=8, shuffle=True,
                                            generator=torch.Generator().manual_seed(3),
                                            collate_fn=RowCollator(corpus, rows))
    ours = make_loader(corpus, 16, 8, shuffle=True, seed=3)
    assert isinstance(ours, ShuffledRows) and len(ours) == len(reference)
    for _ in range(3):  # each epoch a new order, the same as before the loader became resumable
        assert _ids(ours) == _ids(reference)


def test_a_loader_restored_mid_epoch_continues_that_epoch(tiny_sentences):
    corpus = _corpus(tiny_sentences)
    straight = make_loader(corpus, 16, 8, shuffle=True, seed=0)
    expected = _ids(straight) + _ids(straight)  # epochs 0 and 1
    first = make_loader(corpus, 16, 8, shuffle=True, seed=0)
    seen = _ids(first)  # epoch 0 in full
    it = iter(first)
    seen += _ids([next(it) for _ in range(5)])  # 5 batches of epoch 1, then "the process dies"
    state = first.state_dict()
    assert state == {"epoch": 1, "batches_done": 5}
    resumed = make_loader(corpus, 16, 8, shuffle=True, seed=0)
    resumed.load_state_dict(state)
    assert seen + _ids(resumed) == expected
    end = make_loader(corpus, 16, 8, shuffle=True, seed=0)
    end.load_state_dict({"epoch": 0, "batches_done": len(end)})  # saved at the end of epoch 0: next is epoch 1
    assert _ids(end) == expected[len(expected) // 2:]


def test_the_trained_steps_not_the_prefetched_batches_decide_where_it_resumes(tiny_sentences):
    corpus = _corpus(tiny_sentences)
    step = [0]
    loader = make_loader(corpus, 16, 8, shuffle=True, seed=0, steps_done=lambda: step[0])
    it = iter(loader)
    for _ in range(4):
        next(it)
        step[0] += 1
    next(it)  # Lightning fetches one batch ahead of the one it trains on
    assert loader.state_dict() == {"epoch": 0, "batches_done": 4}


def _pretrain(run_dir: Path, corpus: Path, steps: int) -> None:
    cmd = [sys.executable, "pretrain.py", "corpus=file", f"corpus.path={corpus}", "bilm_arch=tiny",
           "trainer.max_epochs=1", f"trainer.max_steps={steps}", "data.batch_size=16", "logger=csv",
           f"hydra.run.dir={run_dir}", "threads=1", "trainer.enable_progress_bar=false", "evaluate_test=false",
           "trainer.num_sanity_val_steps=0", "model.dropout=0.0"]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.slow
def test_pretraining_cut_mid_epoch_and_resumed_equals_one_uninterrupted_run(tmp_path, tiny_corpus_path):
    _pretrain(tmp_path / "straight", tiny_corpus_path, 8)
    _pretrain(tmp_path / "cut", tiny_corpus_path, 4)
    _pretrain(tmp_path / "cut", tiny_corpus_path, 8)  # resumes from last.ckpt (step 4, mid-epoch)

    def weights(run: str) -> dict[str, torch.Tensor]:
        return torch.load(tmp_path / run / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]

    straight, resumed = weights("straight"), weights("cut")
    assert torch.load(tmp_path / "cut" / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 8
    assert all(torch.allclose(straight[k], resumed[k], atol=1e-6) for k in straight)
