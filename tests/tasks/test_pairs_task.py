"""``task=pairs`` (ESIM) on the SNLI-format fixture: batches hold each distinct sentence once, the biLM runs once per
distinct sentence, every placement trains, ``-`` labels are dropped and counted, and ``experiment=snli_paper``
composes to the paper's setting."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from elmo_lab.elmo.placements import ElmoSettings
from elmo_lab.elmo.provider import ContextualLayers
from elmo_lab.training.pipeline import train
from elmo_lab.contextual.lstm import CharIds
from tabular_helpers import SNLI, write_rows
from tasks.pairs import ESIMClassifier, PairsDataModule
from learning_helpers import keyword_sentences, trained_metrics
from train_helpers import FAST, compose_train, example_metric

SETTINGS = FAST + ["task=pairs", f"task.data_dir={SNLI}"]


def _task(**keys) -> dict:
    return dict(name="pairs", module="tasks.pairs", data_dir=str(SNLI), text_fields=["sentence1", "sentence2"],
                label_field="label", tokenized=False, skip_empty=False, max_tokens=None, dev_fraction=0.1,
                split_seed=0, min_count=1, lowercase=True, batch_size=12, eval_batch_size=12, num_workers=0,
                word_dim=8, hidden_dim=8, dropout=0.0, **keys)


def test_a_batch_holds_each_distinct_sentence_once() -> None:
    dm = PairsDataModule(_task(), seed=0, encoder_input=CharIds(50))
    assert dm.data_sizes() == {"train": 23, "dev": 6, "test": 9}
    examples = dm.splits["test"]
    batch = dm.collate(examples)
    assert len(batch["sentences"]["tokens"]) == 3 + 9  # three premises, each with three hypotheses
    assert batch["sentences"]["encoder_input"].shape[0] == 12
    for e, p, h in zip(examples, batch["premise"].tolist(), batch["hypothesis"].tolist()):
        assert batch["sentences"]["tokens"][p] == e.premise and batch["sentences"]["tokens"][h] == e.hypothesis
    assert dm.sequences_of(examples[0]) == [examples[0].premise, examples[0].hypothesis]
    assert dm.data_notes()["dropped_no_gold_label"] == {"train": 1, "dev": 1, "test": 0}


def test_the_bilm_runs_once_per_batch_over_the_distinct_sentences(tiny_bilm_dir: Path) -> None:
    elmo = ContextualLayers.from_config(dict(spec=str(tiny_bilm_dir), freeze=True, stateful=False, cache=False,
                                       finetune=dict(enabled=False)), needed=True)
    dm = PairsDataModule(_task(), seed=0, encoder_input=elmo.batch_input)
    dm.setup()
    model = ESIMClassifier(task=_task(), elmo=elmo, settings=ElmoSettings(placement="both"),
                           data_info=dm.model_info()).eval()
    rows = []
    elmo.encoder.bilm.register_forward_hook(lambda module, args, out: rows.append(args[0].shape[0]))
    batch = dm._collate_indexed(list(enumerate(dm.splits["test"])))
    with torch.no_grad():
        logits = model(batch)
    assert rows == [12] and logits.shape == (9, 3)  # one pass over 12 distinct sentences for 9 pairs
    alone = dm._collate_indexed([(0, dm.splits["test"][4])])
    with torch.no_grad():
        assert torch.allclose(model(alone)[0], logits[4], atol=1e-4)  # batching (padding, sharing) changes nothing


@pytest.mark.slow
@pytest.mark.parametrize("placement", ["none", "input", "both"])
def test_esim_trains_at_each_placement(placement: str, tiny_bilm_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(compose_train(SETTINGS + [f"bilm.spec={tiny_bilm_dir}", f"elmo.placement={placement}"], run_dir=run))
    results = json.loads((run / "results.json").read_text())
    assert results["data_notes"]["dropped_no_gold_label"] == {"train": 1, "dev": 1, "test": 0}
    assert results["data_sizes"] == {"train": 23, "dev": 6, "test": 9}
    expected = {"none": [], "input": ["input"], "both": ["input", "output"]}[placement]
    assert sorted(results["layer_weights"]) == expected
    assert all(len(w["s"]) == 3 for w in results["layer_weights"].values())  # L + 1 layers of the tiny biLM
    metrics = results["metrics"]
    assert {"test/acc", "test/macro_f1", "test/f1_contradiction", "test/f1_entailment", "test/f1_neutral"} <= set(
        metrics)
    records = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert len(records) == 9 and set(records[0]) == {"index", "premise", "hypothesis", "gold", "pred"}
    assert records[0]["premise"][:2] == ["This", "church"] and records[0]["gold"] == "neutral"
    assert example_metric(run, "acc") == pytest.approx(metrics["test/acc"])


@pytest.mark.slow
def test_pairs_from_a_csv_with_own_field_names(tiny_bilm_dir: Path, tmp_path: Path) -> None:
    rows = [(f"A dog runs in the park number {i} .", f"An animal is {'outside' if i % 2 else 'asleep'} .",
             "entailment" if i % 2 else "contradiction") for i in range(20)]
    header = ("premise", "hypothesis", "relation")
    for split, part in (("train", rows[:12]), ("dev", rows[12:16]), ("test", rows[16:])):
        write_rows(tmp_path / "data" / f"{split}.csv", part, header=header)
    run = tmp_path / "run"
    train(compose_train(SETTINGS + [f"task.data_dir={tmp_path / 'data'}", "task.text_fields=[premise,hypothesis]",
                                    "task.label_field=relation", f"bilm.spec={tiny_bilm_dir}",
                                    "elmo.placement=output"], run_dir=run))
    results = json.loads((run / "results.json").read_text())
    assert results["data_sizes"] == {"train": 12, "dev": 4, "test": 4}
    assert results["data_notes"]["labels"] == ["contradiction", "entailment"]


def test_experiment_snli_paper_is_the_papers_setting() -> None:
    cfg = compose_train(["experiment=snli_paper", f"task.data_dir={SNLI}"])
    assert cfg.task.name == "pairs" and cfg.task.module == "tasks.pairs"
    assert str(cfg.elmo.placement) == "both" and cfg.elmo.layer_norm is True and cfg.elmo.l2_coef == 0.001
    assert cfg.task.hidden_dim == 300 and cfg.task.dropout == 0.5 and cfg.task.lr == 0.0004


@pytest.mark.learning
def test_esim_learns_snli_format_pairs_far_above_chance(tmp_path: Path) -> None:
    """The hypothesis's keyword decides the relation; SNLI's own JSONL layout (``gold_label``)."""
    relations = ["entailment", "neutral", "contradiction"]
    for split, n, seed in (("train", 90, 0), ("dev", 30, 1), ("test", 30, 2)):
        premises = keyword_sentences(n, ["dog", "cat", "bird"], seed + 10)
        rows = [(" ".join(p), " ".join(h), relations[label])
                for (p, _), (h, label) in zip(premises, keyword_sentences(n, ["yes true sure", "maybe perhaps possibly", "no never false"], seed))]
        write_rows(tmp_path / "data" / f"snli_1.0_{split}.jsonl", rows,
                   header=("sentence1", "sentence2", "gold_label"))
    metrics = trained_metrics(["task=pairs", f"task.data_dir={tmp_path / 'data'}", "task.hidden_dim=8",
                               "task.batch_size=10", "task.lr=0.02", "task.dropout=0.0", "trainer.max_epochs=10"],
                              tmp_path / "run")
    assert metrics["test/acc"] >= 0.8  # chance: 1/3
