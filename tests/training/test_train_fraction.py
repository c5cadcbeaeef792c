"""Training on a part of the training split (``task.train_fraction`` / ``task.train_examples``): nested, seeded,
label-stratified subsets; the vocabulary from the subset, the biLM cache from every sequence; the config checks, the
epoch resolver and ``experiment=sample_efficiency``; one MR run end to end with its ``results.json``."""
from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from elmo_lab.config.schema import ConfigError, epochs_for_fraction, train_subset_request, validate
from elmo_lab.data.subsets import nested_order, nested_subset, subset_size
from elmo_lab.training.datamodule import ElmoDataModule
from elmo_lab.training.pipeline import train
from elmo_lab.contextual.lstm import CharIds
from tasks.sentiment import SentimentDataModule
from tasks.squad import SquadDataModule

from train_helpers import FAST, REPO, compose_train, example_metric

MR = dict(name="mr", module="tasks.sentiment", dataset="mr", data_dir=None, split_seed=0, phrases=False,
          min_phrase_tokens=1, download=False, min_count=1, lowercase=True, batch_size=4, eval_batch_size=8,
          num_workers=0)
FRACTIONS = (0.01, 0.03, 0.1, 0.3, 1.0)


def _key(example) -> tuple:
    return tuple(example.tokens), example.label


def _is_sub_multiset(small: list, large: list) -> bool:
    return not (Counter(small) - Counter(large))


@pytest.fixture(scope="module")
def mr_by_fraction() -> dict[float, SentimentDataModule]:
    """One MR datamodule per fraction (MR is read five times: about a second each)."""
    modules = {}
    for fraction in FRACTIONS:
        dm = SentimentDataModule(dict(MR, train_fraction=fraction), seed=0)
        dm.setup()
        modules[fraction] = dm
    return modules


# --- the subset rule ---------------------------------------------------------------------------------------------


def test_subset_sizes_round_and_clamp() -> None:
    assert [subset_size(6826, f) for f in FRACTIONS] == [68, 205, 683, 2048, 6826]
    assert subset_size(10, 0.001) == 1 and subset_size(0, 0.5) == 0 and subset_size(10, 0.25) == 3  # 2.5 -> 3
    assert subset_size(10, examples=4) == 4 and subset_size(10, examples=99) == 10
    with pytest.raises(ValueError):
        subset_size(10, 0.0)


def test_unlabelled_subsets_are_nested_seeded_and_in_original_order() -> None:
    order = nested_order(50, seed=3)
    assert sorted(order) == list(range(50)) and order == nested_order(50, seed=3) != nested_order(50, seed=4)
    previous: set[int] = set()
    for size in (1, 5, 17, 40, 50):
        subset = nested_subset(50, size, seed=3)
        assert subset == sorted(subset) and len(subset) == size and previous <= set(subset)
        previous = set(subset)
    assert nested_subset(5, 9, seed=0) == [0, 1, 2, 3, 4]


def test_stratified_prefixes_keep_label_proportions() -> None:
    rng = random.Random(0)
    for trial in range(50):
        labels = [rng.choice("aaaaabbbc" if trial % 2 else "ab") for _ in range(rng.randint(5, 200))]
        counts, n = Counter(labels), len(labels)
        order, taken = nested_order(labels, seed=trial), Counter()
        assert sorted(order) == list(range(n))
        for k, i in enumerate(order, start=1):  # every prefix, per label: within the documented bound
            taken[labels[i]] += 1
            for label, n_c in counts.items():
                assert abs(taken[label] - k * n_c / n) <= 0.5 + len(counts) * n_c / (2 * n) + 1e-9
    small, large = nested_subset(labels, 20, seed=1), nested_subset(labels, 60, seed=1)
    assert set(small) <= set(large)


# --- the datamodule -----------------------------------------------------------------------------------------------


def test_mr_subsets_are_nested_stratified_and_dev_test_stay_whole(mr_by_fraction: dict) -> None:
    full = mr_by_fraction[1.0]
    labels = Counter(e.label for e in full.splits["train"])
    previous: list = []
    for fraction in FRACTIONS:
        dm = mr_by_fraction[fraction]
        train = [_key(e) for e in dm.splits["train"]]
        assert len(train) == subset_size(6826, fraction)
        assert _is_sub_multiset(previous, train)  # 1 % inside 3 % inside 10 % ...
        previous = train
        got = Counter(label for _, label in train)
        for label, n_c in labels.items():  # two labels: within 1.5 of the proportional count
            assert abs(got[label] - len(train) * n_c / 6826) <= 1.5
        assert dm.data_sizes() == {"train": len(train), "dev": 852, "test": 852}
        assert [_key(e) for e in dm.splits["dev"]] == [_key(e) for e in full.splits["dev"]]
        assert dm.subset_notes() == {"train_fraction": fraction, "train_examples": len(train), "train_pool": 6826,
                                     "train_subset_seed": 0, "train_subset_stratified": True}
    assert [_key(e) for e in full.splits["train"]] == [_key(e) for e in full.full_train]  # 1.0: untouched, in order


def test_the_vocabulary_comes_from_the_subset_and_the_cache_from_every_sequence(mr_by_fraction: dict) -> None:
    small, full = mr_by_fraction[0.01], mr_by_fraction[1.0]
    words = {w.lower() for e in small.splits["train"] for w in e.tokens}
    assert set(small.vocab.vocab.index) - {"<UNK>", "<S>", "</S>"} <= words
    assert len(small.vocab) < len(full.vocab) / 10
    left_out = next(w for e in full.splits["train"] for w in e.tokens if w.lower() not in words)
    assert small.vocab.encode([[left_out]])[0, 0] == small.vocab.vocab.unk_id + 1
    sequences = [tuple(s) for s in small.all_sequences()]
    assert sequences == [tuple(s) for s in full.all_sequences()] and len(sequences) == 6826 + 852 + 852
    assert small.sentences("train") == [list(e.tokens) for e in small.splits["train"]]  # fine-tuning: the subset


def test_the_subset_depends_on_split_seed_only(mr_by_fraction: dict) -> None:
    reference = [_key(e) for e in mr_by_fraction[0.1].splits["train"]]
    for seed, char_ids in ((1, True), (7, False)):  # the run's seed; char ids (the biLM stage, i.e. the placement)
        dm = SentimentDataModule(dict(MR, train_fraction=0.1), seed=seed,
                                 encoder_input=CharIds(50) if char_ids else None)
        dm.setup()
        assert [_key(e) for e in dm.splits["train"]] == reference
    other = SentimentDataModule(dict(MR, train_fraction=0.1, split_seed=1), seed=0)
    other.setup()
    assert [_key(e) for e in other.splits["train"]] != reference


@dataclass(frozen=True)
class Sentence:
    tokens: list[str]


class Unlabelled(ElmoDataModule):
    """A task whose examples have no ``label`` (a sequence task, a task added later)."""

    def load_splits(self) -> dict[str, list]:
        return {"train": [Sentence([f"w{i}", "x"]) for i in range(40)], "dev": [Sentence(["d"])],
                "test": [Sentence(["t"])]}


def test_every_task_gets_the_subset_from_the_base_datamodule() -> None:
    dm = Unlabelled(dict(batch_size=4, train_examples=10, split_seed=2))
    dm.setup()
    assert len(dm.splits["train"]) == 10 and dm.subset_notes()["train_subset_stratified"] is False
    assert dm.subset_notes()["train_fraction"] == 0.25 and len(list(dm.all_sequences())) == 42
    kept = {e.tokens[0] for e in dm.splits["train"]}
    assert set(dm.vocab.vocab.index) == kept | {"x", "<S>", "</S>", "<UNK>"}  # the subset's words only
    bigger = Unlabelled(dict(batch_size=4, train_fraction=0.5, split_seed=2))
    bigger.setup()
    assert {e.tokens[0] for e in dm.splits["train"]} <= {e.tokens[0] for e in bigger.splits["train"]}
    with pytest.raises(ConfigError, match="task.train_fraction and task.train_examples"):
        Unlabelled(dict(batch_size=4, train_examples=10, train_fraction=0.5)).setup()


def test_squad_max_train_questions_is_train_examples() -> None:
    task = dict(name="squad", module="tasks.squad", data_dir=str(REPO / "tests" / "data" / "fixtures" / "squad"),
                download=False, val_fraction=0.0, split_seed=0, max_passage_tokens=None, min_count=1,
                lowercase=True, batch_size=4, eval_batch_size=8, num_workers=0)
    old, new = SquadDataModule(dict(task, max_train_questions=5)), SquadDataModule(dict(task, train_examples=5))
    assert old.data_sizes()["train"] == new.data_sizes()["train"] == 5
    assert [e.qid for e in old.splits["train"]] == [e.qid for e in new.splits["train"]]
    assert old.subset_notes()["train_pool"] == 19 and len(list(old.all_sequences())) == 2 * (19 + 5)


# --- configuration ------------------------------------------------------------------------------------------------


def test_bad_subset_settings_name_their_keys() -> None:
    assert train_subset_request({}) == (1.0, None)
    assert train_subset_request({"max_train_questions": 7}) == (1.0, 7)
    for task, message in (({"train_fraction": 0.0}, r"^task.train_fraction: must be in \(0, 1\], got 0.0"),
                          ({"train_fraction": 1.2}, r"^task.train_fraction: must be in \(0, 1\]"),
                          ({"train_examples": 0}, r"^task.train_examples: must be an integer >= 1, got 0"),
                          ({"train_fraction": 0.5, "train_examples": 3}, r"^task.train_fraction and task.train_examples"),
                          ({"train_examples": 3, "max_train_questions": 3},
                           r"^task.train_examples and task.max_train_questions"),
                          ({"train_fraction": 0.5, "max_train_questions": 3},
                           r"^task.train_fraction and task.max_train_questions")):
        with pytest.raises(ConfigError, match=message):
            train_subset_request(task)
    with pytest.raises(ConfigError, match="^task.train_fraction: must be in"):
        validate(compose_train(["task.train_fraction=2"]))


def test_epochs_for_fraction() -> None:
    assert [epochs_for_fraction(f, 6) for f in FRACTIONS] == [60, 35, 19, 11, 6]
    assert epochs_for_fraction(0.0001, 6) == 120 and epochs_for_fraction(0.5, None) is None  # 20 x; no limit


def test_sample_efficiency_experiment() -> None:
    cfg = compose_train(["experiment=sample_efficiency", "task.train_fraction=0.1", "seed=2"])
    assert dict(cfg.hydra.sweeper.params) == {"task.train_fraction": "0.01,0.03,0.1,0.3,1.0",
                                              "elmo.placement": "none,input,both", "seed": "0,1,2"}
    assert cfg.trainer.max_epochs == 19 and cfg.callbacks.early_stopping.monitor == "val/acc"
    assert cfg.run_name == "input-all-l2_0.001-frac0.1-seed2"
    assert compose_train(["experiment=sample_efficiency", "trainer.max_epochs=1"]).trainer.max_epochs == 1


@pytest.mark.slow
def test_mr_run_on_a_tenth_records_the_subset(fast_overrides: list[str], tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    train(compose_train(fast_overrides + ["task.train_fraction=0.1", "elmo.placement=input"], run_dir=run_dir))
    results = json.loads((run_dir / "results.json").read_text())
    assert results["data_sizes"] == {"train": 683, "dev": 852, "test": 852}
    notes = results["data_notes"]
    assert notes["train_fraction"] == 0.1 and notes["train_examples"] == 683 and notes["train_pool"] == 6826
    assert notes["train_subset_seed"] == 0 and notes["train_subset_stratified"] is True
    assert results["config"]["task"]["train_fraction"] == 0.1 and 0.0 <= results["metrics"]["test/acc"] <= 1.0
    records = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    assert [r["index"] for r in records] == sorted(r["index"] for r in records) and {r["gold"] for r in records} <= {0, 1}
    assert example_metric(run_dir, "acc") == pytest.approx(results["metrics"]["test/acc"], abs=1e-6)
    assert results["chance"]["levels"] == {"val/acc": 0.5, "test/acc": 0.5}  # MR's split is balanced
    assert results["chance"]["at_chance"] == [k for k in ("test/acc", "val/acc") if results["metrics"][k] <= 0.5]
    assert [h["epoch"] for h in results["history"]] == [1] and "val/acc" in results["history"][0]
