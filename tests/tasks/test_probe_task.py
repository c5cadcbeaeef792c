"""The linear probe (``task=probe``): the label column, unseen labels, the most-frequent-tag baseline, a probe whose
only parameters are the mix and one linear layer over a frozen biLM, the random-weights control, the placement
check, and the per-layer sweep through the CLI with its report."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from elmo_lab.config.schema import ConfigError
from elmo_lab.data.errors import DataError
from elmo_lab.elmo.provider import ContextualLayers
from elmo_lab.training.pipeline import train
from tasks.probe import (LabelledSentence, LinearProbe, ProbeDataModule, check_probe_config,
                         most_frequent_tag_accuracy, most_frequent_tags)
from test_ner_task import write_conll  # tests/tasks is on sys.path under pytest's default import mode

from learning_helpers import trained_metrics
from train_helpers import compose_train, train_cli, example_metric

ELMO = dict(placement="input", mix="layer", layer=1, layer_norm=False, dropout=0.0, l2_coef=0.0)
FAST_PROBE = ["trainer.max_epochs=1", "trainer.enable_progress_bar=false", "logger=csv", "threads=1"]


def _bilm(spec: Path | str, **kw) -> dict:
    return dict(spec=str(spec), freeze=True, stateful=False, cache=True, random_weights=False,
                finetune=dict(enabled=False)) | kw


def _task(folder: Path, column: int = 4) -> dict:
    return dict(name="probe", module="tasks.probe", data_dir=str(folder), column=column, download=False,
                batch_size=8, eval_batch_size=16, num_workers=0, lr=0.01, optimizer="adam")


def _data_with_an_unseen_label(folder: Path) -> Path:
    """The synthetic NER corpus, whose dev split also has a label (I-MISC) that train never has."""
    write_conll(folder)
    with open(folder / "valid.txt", "a") as f:
        f.write("Zorro NN I-NP I-MISC\nsmiled VBD I-VP O\n\n")
    return folder


def _write_pos(folder: Path, splits: dict[str, list[str]]) -> Path:
    """Four-column files from ``word/TAG`` sentences."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, sentences in splits.items():
        lines = []
        for sentence in sentences:
            lines += [f"{w} {t} O O" for w, t in (pair.split("/") for pair in sentence.split())] + [""]
        (folder / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return folder


def test_labels_come_from_the_column_and_unseen_labels_get_the_extra_id(tmp_path: Path) -> None:
    dm = ProbeDataModule(_task(_data_with_an_unseen_label(tmp_path / "data")), seed=0)
    dm.setup()
    assert dm.label_names == ["I-LOC", "I-ORG", "I-PER", "O"]
    assert dm.data_notes()["tokens_with_labels_unseen_in_train"] == {"dev": 1, "test": 0}
    labels = torch.cat([b["labels"][b["mask"]] for b in dm.val_dataloader()])  # (tokens,)
    assert (labels == 4).sum() == 1 and labels.min() >= 0  # I-MISC -> the unknown id; no padding among tokens
    batch = next(iter(dm.val_dataloader()))
    assert (batch["labels"][~batch["mask"]] == -1).all()  # padding
    pos = ProbeDataModule(_task(tmp_path / "data", column=2), seed=0)
    pos.setup()
    assert pos.label_names == ["NN"]


def test_bad_columns_fail_in_one_line_naming_the_file_or_key(tmp_path: Path) -> None:
    data = write_conll(tmp_path / "data")
    with pytest.raises(DataError, match=r"train\.txt:3: task.column=5 but the line has 4 column"):
        ProbeDataModule(_task(data, column=5)).setup()
    with pytest.raises(ConfigError, match="task.column: must be >= 2"):
        ProbeDataModule(_task(data, column=1)).setup()


def test_most_frequent_tag_baseline_by_hand(tmp_path: Path) -> None:
    train = ["the/DT dog/NN runs/VBZ", "the/DT runs/NNS", "dogs/NNS run/VBP", "the/DT dog/NN"]
    # the: DT; dog: NN; runs: VBZ 1 = NNS 1, a tie that NNS wins (2 in train against 1); dogs: NNS; run: VBP.
    # Unseen words get the most frequent tag overall, DT (3).
    table, fallback = most_frequent_tags([LabelledSentence(*zip(*(p.split("/") for p in s.split())))
                                          for s in train])
    assert table == {"the": "DT", "dog": "NN", "runs": "NNS", "dogs": "NNS", "run": "VBP"} and fallback == "DT"
    dev = [LabelledSentence(["the", "cat", "runs"], ["DT", "NN", "VBZ"])]  # DT, DT (unseen), NNS: 1 of 3
    assert most_frequent_tag_accuracy(table, fallback, dev) == pytest.approx(1 / 3)
    folder = _write_pos(tmp_path / "pos", {"train": train, "valid": ["the/DT cat/NN runs/VBZ"],
                                           "test": ["dog/NN runs/NNS the/XX"]})  # 2 of 3; XX never in train
    dm = ProbeDataModule(_task(folder, column=2))
    dm.setup()
    baseline = dm.data_notes()["most_frequent_tag_baseline"]
    assert baseline["dev/acc"] == pytest.approx(1 / 3) and baseline["test/acc"] == pytest.approx(2 / 3)
    assert baseline["train/acc"] == pytest.approx(8 / 9)  # only one of the two "runs" is NNS


def test_the_probe_is_a_linear_layer_on_a_frozen_bilm(tiny_bilm_dir: Path, tmp_path: Path) -> None:
    data = _data_with_an_unseen_label(tmp_path / "data")
    for mix, layer, mix_params in (("layer", 1, ["gamma"]), ("all", None, ["gamma", "weights"])):
        elmo = ContextualLayers.from_config(_bilm(tiny_bilm_dir), needed=True)
        dm = ProbeDataModule(_task(data), seed=0, encoder_input=elmo.batch_input)
        dm.setup()
        probe = LinearProbe(task=_task(data), elmo=elmo, settings=dict(ELMO, mix=mix, layer=layer),
                            data_info=dm.model_info())
        trainable = sorted(n for n, p in probe.named_parameters() if p.requires_grad)
        assert trainable == sorted(["classifier.bias", "classifier.weight"]
                                   + [f"encoder.input_mix.{p}" for p in mix_params])
        assert probe.classifier.in_features == elmo.encoder.bilm.output_dim == 16
        assert not [m for n, m in probe.named_modules() if isinstance(m, (torch.nn.Embedding, torch.nn.LSTM))
                    and not n.startswith("elmo.encoder")]
    before = {k: v.clone() for k, v in elmo.encoder.bilm.state_dict().items()}
    probe.train()
    loss, _, _ = probe.step(next(iter(dm.train_dataloader())))
    loss.backward()
    assert all(p.grad is None for p in elmo.encoder.bilm.parameters()) and not elmo.encoder.bilm.training
    assert probe.classifier.weight.grad is not None
    torch.optim.SGD(probe.parameters(), lr=1.0).step()
    assert all(torch.equal(before[k], v) for k, v in elmo.encoder.bilm.state_dict().items())
    probe.eval()
    with torch.no_grad():
        batches = list(dm.val_dataloader())
        steps = [probe.step(b) for b in batches]
    targets = torch.cat([t for _, _, t in steps])
    preds = torch.cat([p for _, p, _ in steps])
    assert (targets == 4).sum() == 1 and (preds < 4).all()  # the unseen label is never predicted: always wrong
    metric = probe.make_metrics()
    for _, p, t in steps:
        metric.update(p, t)
    assert metric.compute()["acc"] == pytest.approx((preds == targets).float().mean().item())


@pytest.mark.parametrize("mix, layer, l2_coef, learned", [("all", None, 0.5, True), ("all", None, 0.0, False),
                                                         ("layer", 1, 0.5, False)])
def test_the_training_penalty_is_lambda_times_the_squared_raw_weights(mix: str, layer: int | None, l2_coef: float,
                                                                      learned: bool, tiny_bilm_dir: Path,
                                                                      tmp_path: Path) -> None:
    data = _data_with_an_unseen_label(tmp_path / "data")
    elmo = ContextualLayers.from_config(_bilm(tiny_bilm_dir), needed=True)
    dm = ProbeDataModule(_task(data), seed=0, encoder_input=elmo.batch_input)
    dm.setup()
    probe = LinearProbe(task=_task(data), elmo=elmo, settings=dict(ELMO, mix=mix, layer=layer, l2_coef=l2_coef),
                        data_info=dm.model_info())
    for values in ([0.5, -1.0, 2.0], [3.0, 0.0, 1.0]):  # set after the first call too: nothing stale is kept
        if mix == "all":
            with torch.no_grad():
                probe.encoder.input_mix.weights.copy_(torch.tensor(values))
        penalty = probe.regularization_loss()
        assert penalty.item() == pytest.approx(l2_coef * sum(v * v for v in values) if learned else 0.0)
    assert penalty.requires_grad == learned


def test_mix_lr_gives_the_mixes_their_own_learning_rate_and_they_move_faster(tiny_bilm_dir: Path,
                                                                             tmp_path: Path) -> None:
    data = _data_with_an_unseen_label(tmp_path / "data")
    moved = {}
    for mix_lr in (None, 0.3):
        elmo = ContextualLayers.from_config(_bilm(tiny_bilm_dir), needed=True)
        dm = ProbeDataModule(_task(data), seed=0, encoder_input=elmo.batch_input)
        dm.setup()
        torch.manual_seed(0)
        probe = LinearProbe(task=_task(data), elmo=elmo, settings=dict(ELMO, mix="all", layer=None, mix_lr=mix_lr),
                            data_info=dm.model_info())
        optimizer = probe.configure_optimizers()
        mix = probe.encoder.input_mix
        groups = [(g["lr"], {id(p) for p in g["params"]}) for g in optimizer.param_groups]
        if mix_lr is None:
            assert groups == [(0.01, {id(p) for p in probe.parameters() if p.requires_grad})]
        else:
            assert groups == [(0.01, {id(probe.classifier.weight), id(probe.classifier.bias), id(mix.gamma)}),
                              (0.3, {id(mix.weights)})]
        probe.train()
        for batch in list(dm.train_dataloader()) * 3:
            loss, _, _ = probe.step(batch)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        moved[mix_lr] = mix.weights.detach().abs().max().item()  # raw w starts at 0
    assert moved[0.3] > 5 * moved[None] > 0


@pytest.mark.parametrize("placement", ["none", "output", "both"])
def test_other_placements_are_refused_naming_the_key(placement: str, tiny_bilm_dir: Path, tmp_path: Path) -> None:
    # Task.check: the pipeline runs it on the composed config before any data is read
    with pytest.raises(ConfigError, match=r"^elmo.placement: the probe reads the biLM vector \(elmo.placement=input\)"
                                          f" or word vectors alone .*, got {placement}"):
        check_probe_config(dict(elmo=dict(ELMO, placement=placement), bilm=_bilm(tiny_bilm_dir)))
    vectors = dict(word_vectors="glove_6b_50d", freeze_word_vectors=True)
    if placement == "none":  # word vectors alone: the GloVe-style baseline (probe=glove)
        check_probe_config(dict(elmo=dict(ELMO, placement="none"), bilm=_bilm(tiny_bilm_dir), task=vectors))
    with pytest.raises(ConfigError, match="^task.freeze_word_vectors: the probe reads a fixed representation"):
        check_probe_config(dict(elmo=dict(ELMO, placement="none"), bilm=_bilm(tiny_bilm_dir),
                                task=dict(vectors, freeze_word_vectors=False)))
    with pytest.raises(ConfigError, match="^bilm.freeze"):
        check_probe_config(dict(elmo=ELMO, bilm=_bilm(tiny_bilm_dir, freeze=False)))


def test_random_weights_same_shapes_other_values_deterministic(tiny_bilm_dir: Path) -> None:
    trained = ContextualLayers.from_config(_bilm(tiny_bilm_dir), needed=True).encoder.bilm.state_dict()
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    random = _bilm(tiny_bilm_dir, random_weights=True)
    first = ContextualLayers.from_config(random, needed=True).encoder.bilm.state_dict()
    assert torch.equal(torch.rand(3), expected_next)  # the run's own random stream is left alone
    second = ContextualLayers.from_config(random, needed=True).encoder.bilm.state_dict()
    assert first.keys() == trained.keys()
    assert all(first[k].shape == trained[k].shape for k in trained)
    assert all(torch.equal(first[k], second[k]) for k in first)
    weights = [k for k in trained if k.endswith("weight")]
    assert all(not torch.equal(first[k], trained[k]) for k in weights)


def test_experiment_sweeps_every_layer_and_the_mix(tiny_bilm_dir: Path, tmp_path: Path) -> None:
    cfg = compose_train(["experiment=probe_layers"])
    assert cfg.hydra.sweeper.params == {"probe": "layer0,layer1,layer2,mix"}
    for choice, mix, layer in (("layer0", "layer", 0), ("layer2", "layer", 2), ("mix", "all", None)):
        cfg = compose_train(["experiment=probe_layers", f"probe={choice}", "bilm.random_weights=true"])
        assert (cfg.task.name, str(cfg.elmo.placement), str(cfg.elmo.mix), cfg.elmo.layer) == ("probe", "input",
                                                                                           mix, layer)
        assert cfg.elmo.dropout == 0.0
        assert cfg.run_name == f"probe-{mix}{'' if layer is None else layer}-random-seed0"
    assert compose_train(["experiment=probe_layers", "task=probe_chunk"]).task.column == 3


@pytest.mark.slow
def test_probe_trains_and_writes_accuracy_and_the_baseline(tiny_bilm_dir: Path, tmp_path: Path) -> None:
    data = _data_with_an_unseen_label(tmp_path / "data")
    run_dir = tmp_path / "run"
    overrides = FAST_PROBE + ["experiment=probe_layers", "probe=layer1", f"task.data_dir={data}", "task.column=4",
                              f"bilm.spec={tiny_bilm_dir}"]
    train(compose_train(overrides, run_dir=run_dir))
    results = json.loads((run_dir / "results.json").read_text())
    assert {"val/acc", "test/acc"} <= set(results["metrics"]) and results["objective"] == "val/acc"
    assert 0.0 <= results["metrics"]["val/acc"] < 1.0  # the unseen dev label is never right
    assert results["layer_weights"]["input"]["s"] == [0.0, 1.0, 0.0]
    assert results["layer_weights"]["input"]["center_of_gravity"] == 1.0  # E_s of the one-hot weights
    contributions = results["layer_weights"]["input"]["contributions"]  # measured on the test pass
    assert contributions["split"] == "test" and contributions["share"] == [0.0, 1.0, 0.0]
    assert contributions["tokens"] > 0 and all(m > 0 for m in contributions["mean_norm"])
    records = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    assert [r["index"] for r in records] == list(range(len(records))) and all(len(r["gold"]) == len(r["pred"])
                                                                                for r in records)
    assert example_metric(run_dir, "acc") == pytest.approx(results["metrics"]["test/acc"], abs=1e-6)
    notes = results["data_notes"]
    assert notes["labels"] == 4 and set(notes["most_frequent_tag_baseline"]) == {"train/acc", "dev/acc", "test/acc"}


@pytest.mark.slow
def test_layer_sweep_through_the_cli_and_its_report(tiny_bilm_dir: Path, tmp_path: Path) -> None:
    data = _data_with_an_unseen_label(tmp_path / "data")
    sweep = tmp_path / "sweep"
    args = ["-m", "experiment=probe_layers", "probe=layer0,layer1", f"task.data_dir={data}", "task.column=4",
            f"bilm.spec={tiny_bilm_dir}", f"hydra.sweep.dir={sweep}"] + FAST_PROBE
    result = train_cli(args, tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "most-frequent-tag baseline (column 4, 4 labels)" in result.stdout
    runs = sorted(p.parent.name for p in sweep.glob("*/results.json"))
    assert runs == [f"experiment=probe_layers,probe={p},task.column=4,trainer.max_epochs=1"
                    for p in ("layer0", "layer1")]
    layers = sorted(json.loads((sweep / r / "results.json").read_text())["config"]["elmo"]["layer"] for r in runs)
    assert layers == [0, 1]
    from elmo_lab.cli.report import write_report
    from elmo_lab.report.model import build_report
    from elmo_lab.report.sections import table

    report = build_report([sweep])
    header, rows = table(report)
    assert "layer" in header and sorted(row[header.index("layer")] for row in rows) == ["0", "1"]
    assert "probing.png" in [p.name for p in write_report(report, tmp_path / "report")]


def test_placement_error_through_the_cli(tiny_bilm_dir: Path, tmp_path: Path) -> None:
    result = train_cli(["task=probe", "elmo.placement=both", f"bilm.spec={tiny_bilm_dir}", f"task.data_dir={tmp_path}",
                        "logger=csv"], tmp_path)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    expected = ("error: elmo.placement: the probe reads the biLM vector (elmo.placement=input) or word vectors alone "
                "(elmo.placement=none with task.word_vectors), got both")
    assert lines and lines[-1].startswith(expected), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.learning
@pytest.mark.parametrize("probe", ["layer0", "upto1"])
def test_a_linear_probe_learns_word_tags_far_above_the_majority_tag(tiny_bilm_dir: Path, tmp_path: Path,
                                                                    probe: str) -> None:
    """Four tags, three words each (a tag's words share their letters), in random order: the token layer tells
    them apart, a linear probe learns them — on layer 0 alone, and on the learned mix of layers 0..1."""
    import random

    words = {"NN": ["aab", "bba", "abab"], "VB": ["xxy", "yyx", "xyxy"], "JJ": ["mmn", "nnm", "mnmn"],
             "RB": ["qqr", "rrq", "qrqr"]}
    pairs = [f"{w}/{tag}" for tag, ws in words.items() for w in ws]
    rng = random.Random(0)
    splits = {name: [" ".join(rng.choices(pairs, k=6)) for _ in range(n)]
              for name, n in (("train", 60), ("valid", 15), ("test", 20))}
    data = _write_pos(tmp_path / "data", splits)
    metrics = trained_metrics(["experiment=probe_layers", f"probe={probe}", f"task.data_dir={data}", "task.column=2",
                               f"bilm.spec={tiny_bilm_dir}", "task.lr=0.05", "task.batch_size=10",
                               "trainer.max_epochs=6", "elmo.placement=input"], tmp_path / "run")
    assert metrics["test/acc"] >= 0.8  # the majority tag: about 0.25
    weights = json.loads((tmp_path / "run" / "results.json").read_text())["layer_weights"]["input"]
    assert len(weights["s"]) == {"layer0": 3, "upto1": 2}[probe]  # the tiny biLM's 3 layers; the mix of 0..1: two
