"""The sentiment task module: MR/SST datamodules, batches, encoders and pooling, and clear data errors."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from elmo_lab.data import DataError
from elmo_lab.training.datamodule import BucketBatchSampler
from elmo_lab.modules.bcn import BCNEncoder, SelfAttentivePooling
from elmo_lab.modules.encoders import BiLSTMEncoder, pool
from elmo_lab.contextual.lstm import CharIds
from tasks.sentiment import SentimentDataModule
from learning_helpers import FILLER, keyword_sentences, trained_metrics
from train_helpers import in_process_error_line

TASK = dict(name="mr", module="tasks.sentiment", dataset="mr", data_dir=None, split_seed=0, phrases=False,
            min_phrase_tokens=1, download=False, min_count=1, lowercase=True, batch_size=4, eval_batch_size=8,
            num_workers=0)


def test_mr_datamodule_splits_vocab_and_batches() -> None:
    dm = SentimentDataModule(TASK, seed=0, encoder_input=CharIds(50))  # the LSTM biLM's input, as it runs per batch
    assert dm.data_sizes() == {"train": 6826, "dev": 852, "test": 852}
    assert dm.model_info()["num_classes"] == 2 and dm.model_info()["vocab_size"] > 10_000
    batch = next(iter(dm.train_dataloader()))
    n, time = batch["word_ids"].shape
    assert n == 4 and batch["mask"].sum(1).tolist() == [len(t) for t in batch["tokens"]]
    assert batch["encoder_input"].shape == (4, time + 2, 50)  # <S> and </S> added for the biLM
    assert set(batch["labels"].tolist()) <= {0, 1}


def test_unknown_words_map_to_unk_and_case_folds() -> None:
    dm = SentimentDataModule(TASK, seed=0)
    dm.setup()
    ids = dm.vocab.encode([["The", "the", "zzzunseenzzz"]])
    assert ids[0, 0] == ids[0, 1] and ids[0, 2] == dm.vocab.vocab.unk_id + 1


def test_bucketed_batches_cover_every_example_once_and_depend_only_on_seed_and_epoch() -> None:
    lengths = [5, 1, 9, 3, 3, 7, 2, 8, 4, 6]
    sampler = BucketBatchSampler(lengths, batch_size=3, seed=0, pool_batches=2)
    first = list(sampler)
    assert sorted(i for b in first for i in b) == list(range(10))
    sampler.set_epoch(1)
    second = list(sampler)
    sampler.set_epoch(0)
    assert list(sampler) == first and second != first
    assert list(BucketBatchSampler(lengths, 3, seed=0, shuffle=False))[0] == [1, 6, 3]  # eval: shortest first


def test_encoders_ignore_padding() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 5, 6)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    for encoder in (BiLSTMEncoder(6, 4), BCNEncoder(6, 4)):
        encoder.eval()
        out = encoder(x, mask)
        assert out.shape == (2, 5, encoder.output_dim)
        alone = encoder(x[1:, :3], mask[1:, :3])  # the short row without its padding
        assert torch.allclose(out[1, :3], alone[0], atol=1e-5)
    h = torch.randn(2, 5, 3)
    pooled = pool(h, mask, ["max", "mean"])
    assert torch.allclose(pooled[1, :3], h[1, :3].max(0).values)
    assert torch.allclose(pooled[1, 3:], h[1, :3].mean(0))
    assert SelfAttentivePooling(3)(h, mask).shape == (2, 12)


def test_malformed_sst_tree_is_reported_with_file_and_line(tmp_path: Path) -> None:
    trees = tmp_path / "trees"
    trees.mkdir()
    good = "(3 (2 A) (4 (3 good) (2 film)))\n"
    (trees / "train.txt").write_text(good + "(3 (2 broken)\n")
    (trees / "dev.txt").write_text(good)
    (trees / "test.txt").write_text(good)
    dm = SentimentDataModule(dict(TASK, name="sst", dataset="sst", data_dir=str(tmp_path)), seed=0)
    with pytest.raises(DataError, match=r"train\.txt:2: "):
        dm.setup()


def test_sst_without_data_says_so_and_names_the_offline_task(tmp_path: Path, monkeypatch, capsys) -> None:
    line = in_process_error_line(["task=sst", f"task.data_dir={tmp_path}/none", "elmo.placement=none", "logger=csv"],
                                 tmp_path, monkeypatch, capsys)
    assert line.startswith("error: SST not found") and "task=mr" in line, line


def _write_sst(folder: Path, keywords: list[str]) -> Path:
    """``trees/{train,dev,test}.txt`` in the official PTB format: each word a leaf labelled 2 (neutral) but the
    keyword, which carries the sentence's label, as does the root."""
    (folder / "trees").mkdir(parents=True)
    for split, n, seed in (("train", 150, 0), ("dev", 30, 1), ("test", 40, 2)):
        trees = []
        for words, label in keyword_sentences(n, keywords, seed):
            leaves = " ".join(f"({2 if w in FILLER else label} {w})" for w in words)
            trees.append(f"({label} {leaves})")
        (folder / "trees" / f"{split}.txt").write_text("\n".join(trees) + "\n")
    return folder


@pytest.mark.learning
def test_sst_five_classes_are_learned_far_above_chance(tmp_path: Path) -> None:
    data = _write_sst(tmp_path / "data", ["awful vile", "bad dull", "okay fair", "good nice", "superb great"])
    metrics = trained_metrics(["task=sst", f"task.data_dir={data}", "task.hidden_dim=8", "task.batch_size=10",
                               "task.lr=0.03", "task.dropout=0.0", "trainer.max_epochs=10"], tmp_path / "run")
    assert metrics["test/acc"] >= 0.8  # chance: 0.2


def test_sst_phrases_add_every_subtree_of_the_train_trees_only(tmp_path: Path) -> None:
    trees = tmp_path / "trees"
    trees.mkdir()
    (trees / "train.txt").write_text("(3 (2 A) (4 (3 good) (2 film)))\n(1 (1 (1 Dull) (2 plot)) (2 .))\n")
    (trees / "dev.txt").write_text("(3 (2 A) (4 (3 good) (2 film)))\n")
    (trees / "test.txt").write_text("(1 (1 (1 Dull) (2 plot)) (2 .))\n")
    sizes = {}
    for phrases, shortest in ((False, 1), (True, 1), (True, 2)):
        dm = SentimentDataModule(dict(TASK, name="sst", dataset="sst", data_dir=str(tmp_path), phrases=phrases,
                                      min_phrase_tokens=shortest), seed=0)
        dm.setup()
        sizes[phrases, shortest] = dm.data_sizes()
        if phrases and shortest == 2:
            assert sorted((" ".join(e.tokens), e.label) for e in dm.splits["train"]) == [
                ("A good film", 3), ("Dull plot", 1), ("Dull plot .", 1), ("good film", 4)]
    assert sizes[False, 1] == {"train": 2, "dev": 1, "test": 1}
    assert sizes[True, 1] == {"train": 10, "dev": 1, "test": 1}  # 5 subtrees a tree; dev and test: whole sentences
    assert sizes[True, 2]["train"] == 4
