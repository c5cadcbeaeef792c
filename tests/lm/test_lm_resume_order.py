"""A pretraining run resumed from a mid-epoch checkpoint continues its epoch where it stopped (``ShuffledRows``,
``StreamLoader`` with its carried LSTM state), instead of starting the epoch over and re-reading batches it already
trained on."""
from __future__ import annotations

from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from elmo_lab.lm.batching import EncodedCorpus, RowCollator, RowDataset, ShuffledRows, pack_rows

from elmo_lab.lm.loaders import make_loader
from elmo_lab.data.vocab import Vocabulary

HERE = Path(__file__).resolve().parent


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


def test_lightning_saves_and_restores_the_loader_position(tiny_sentences):
    """Lightning keeps the state of ``_Stateful`` loaders in checkpoints (``combined_loader`` of the fit loop) and
    hands it back before the resumed epoch's ``iter()``; this goes through the same CombinedLoader calls."""
    from lightning_fabric.utilities.types import _Stateful
    from pytorch_lightning.utilities.combined_loader import CombinedLoader

    corpus = _corpus(tiny_sentences)
    expected = _ids(make_loader(corpus, 16, 8, shuffle=True, seed=0))
    step = [0]
    running = CombinedLoader(make_loader(corpus, 16, 8, shuffle=True, seed=0, steps_done=lambda: step[0]))
    assert all(isinstance(loader, _Stateful) for loader in running.flattened)  # resumable in Lightning's eyes
    it = iter(running)
    seen = []
    for _ in range(6):
        batch, _, _ = next(it)
        seen += _ids([batch])
        step[0] += 1
    saved = running._state_dicts()  # what ModelCheckpoint writes under "loops" → fit_loop → combined_loader
    restored = CombinedLoader(make_loader(corpus, 16, 8, shuffle=True, seed=0, steps_done=lambda: step[0]))
    restored._load_state_dicts(saved)
    assert seen + _ids(batch for batch, _, _ in iter(restored)) == expected


def _windows(batches) -> list[tuple[list[int], bool]]:
    """A fingerprint of each stream window (the first rows' first char ids) and whether it resets the state."""
    return [(b.char_ids[:3, :, 2].flatten().tolist(), b.reset_state) for b in batches]


def test_a_stream_loader_restored_mid_pass_continues_that_pass(tiny_sentences):
    corpus = _corpus(tiny_sentences)
    straight = make_loader(corpus, 8, 4, shuffle=True, seed=0, batching="stream")
    expected = _windows(straight) + _windows(straight)  # passes 0 and 1, each from its own random offset
    assert expected[: len(straight)] != expected[len(straight):]
    first = make_loader(corpus, 8, 4, shuffle=True, seed=0, batching="stream")
    it = iter(first)
    seen = _windows([next(it) for _ in range(7)])  # 7 windows of pass 0, then "the process dies"
    assert first.state_dict() == {"epoch": 0, "batches_done": 7}
    resumed = make_loader(corpus, 8, 4, shuffle=True, seed=0, batching="stream")
    resumed.load_state_dict(first.state_dict())
    after = _windows(resumed)
    assert not after[0][1]  # the next window carries the (checkpointed) state on, it does not reset it
    assert seen + after + _windows(resumed) == expected


def _tiny_lm_run(tmp_path: Path, options: dict, batching: str, max_steps: int, resume: Path | None = None):
    """A tiny biLM trained by Lightning for ``max_steps`` (dropout 0.1: each step reseeds from (seed, step))."""
    from elmo_lab.lm.datamodule import LMDataModule
    from elmo_lab.lm.module import BiLMLanguageModel

    pl.seed_everything(0, verbose=False)
    dm = LMDataModule({"name": "file", "path": str(HERE / "fixtures" / "tiny_corpus.txt")}, window=8, batch_size=4,
                      batching=batching)
    dm.setup()
    model = BiLMLanguageModel(options, len(dm.vocab), dropout=0.1, seed=3)
    trainer = pl.Trainer(max_steps=max_steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
                         default_root_dir=str(tmp_path))
    trainer.fit(model, datamodule=dm, ckpt_path=str(resume) if resume else None)
    return trainer, model


@pytest.mark.parametrize("batching", ["rows", "stream"])
def test_a_pretraining_run_resumed_mid_epoch_ends_with_the_weights_of_an_uninterrupted_one(tmp_path, tiny_options,
                                                                                            batching):
    """Through Lightning's own checkpointing: the loader position (both batchings) and, for streams, the carried
    LSTM state travel in the checkpoint, and every step reseeds its dropout from (seed, step); without any of them
    the resumed steps would train on other windows, states or dropout masks."""
    _, straight = _tiny_lm_run(tmp_path / "a", tiny_options, batching, max_steps=8)
    cut, _ = _tiny_lm_run(tmp_path / "b", tiny_options, batching, max_steps=5)
    cut.save_checkpoint(tmp_path / "cut.ckpt")
    _, resumed = _tiny_lm_run(tmp_path / "c", tiny_options, batching, max_steps=8, resume=tmp_path / "cut.ckpt")
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    if batching == "stream":
        for a, b in zip(straight.bilm.carried_state, resumed.bilm.carried_state):
            assert all(torch.equal(x, y) for (c, h), (c2, h2) in zip(a, b) for x, y in ((c, c2), (h, h2)))
