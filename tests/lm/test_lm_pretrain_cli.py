"""``pretrain.py`` runs the way ``train.py`` does: a typed schema, one-line config errors before torch loads, its
own ``--help``, and a run directory that refuses a rerun with another config (``force=true`` starts over)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from elmo_lab.config.pretrain import PretrainConfig, arch_kind, register_pretrain_configs, validate_pretrain
from elmo_lab.config.schema import ConfigError

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "conf"
# runs pretrain.py as __main__ and says afterwards whether torch had been imported
TORCH_PROBE = ("import runpy, sys\nsys.argv = ['pretrain.py', *sys.argv[1:]]\ntry:\n"
               "    runpy.run_path('pretrain.py', run_name='__main__')\nfinally:\n"
               "    print('torch imported' if 'torch' in sys.modules else 'torch not imported', file=sys.stderr)\n")


def _pretrain_cli(args: list[str], timeout: int = 60, probe: bool = False) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-c", TORCH_PROBE] if probe else [sys.executable, "pretrain.py"]
    return subprocess.run([*argv, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout)


def compose_pretrain(overrides: list[str], config_name: str = "pretrain"):
    register_pretrain_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        return compose(config_name, overrides=overrides)


@pytest.mark.parametrize("args, expected", [
    (["bilm_arch.bad_key=1"], "error: bilm_arch.bad_key: no such key; valid keys: lstm, transformer, char_cnn"),
    (["bilm_arch.lstm.dimm=8"], "error: bilm_arch.lstm.dimm: no such key (did you mean dim?)"),
    (["data.batching=streams"], "error: data.batching: invalid value 'streams'; valid choices: rows, stream"),
    (["model.optimizer=sgd"], "error: model.optimizer: invalid value 'sgd'; valid choices: adagrad, adam, adamw"),
    (["corpus=wiki"], "error: corpus=wiki: no such option; valid choices: file, imdb, mix, ptb"),
    (["model.lr=-1"], "error: model.lr: must be > 0, got -1.0"),  # validate_pretrain, inside the job
    (["corpus=file"], "error: corpus.path: required for corpus=file"),
])
def test_a_config_error_is_one_line_before_torch_loads(args: list[str], expected: str, tmp_path: Path) -> None:
    result = _pretrain_cli([*args, f"hydra.run.dir={tmp_path / 'run'}"], probe=True)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 2 and lines[0].startswith(expected), result.stderr
    assert lines[1] == "torch not imported"
    assert not (tmp_path / "run").exists()  # nothing left of a run that never started


def test_help_lists_only_the_groups_pretrain_composes() -> None:
    result = _pretrain_cli(["--help"], probe=True)
    assert result.returncode == 0 and result.stderr.strip() == "torch not imported", result.stderr
    groups = {line.split(":")[0].strip(): line.split(":", 1)[1].split(", ")
              for line in result.stdout.splitlines() if line.startswith("  ")}
    assert set(groups) == {"corpus", "bilm_arch", "trainer", "logger", "paths", "hydra/launcher"}
    published = {"bilm_arch": ["elmo-medium", "elmo-original", "elmo-small"],  # elmo_lab/config/published.py
                 "hydra/launcher": ["basic", "joblib", "submitit_local", "submitit_slurm"]}  # Hydra's plugins
    for group, choices in groups.items():
        assert [c.strip() for c in choices] == sorted([p.stem for p in (CONF / group).glob("*.yaml")
                                                       if not p.stem.startswith("_")] + published.get(group, []))
    assert "pretrain_schema" not in result.stdout and "_self_" not in result.stdout
    assert "python pretrain.py" in result.stdout.splitlines()[0]


@pytest.mark.parametrize("group", ["corpus", "bilm_arch"])
def test_every_option_composes_typed_and_valid(group: str) -> None:
    from elmo_lab.bilm.architectures import options_from_dict
    from elmo_lab.config.pretrain import arch_options

    for path in sorted((CONF / group).glob("*.yaml")):
        extra = ["corpus.path=some.txt"] if path.stem == "file" else []
        cfg = compose_pretrain([f"{group}={path.stem}", *extra])
        validate_pretrain(cfg)
        plain = OmegaConf.to_container(cfg.bilm_arch, resolve=True, enum_to_str=True)
        assert options_from_dict(arch_options(plain)).to_dict()["char_cnn"]["activation"] == "relu"
    cfg = compose_pretrain([], config_name="pretrain_default_bilm")
    assert cfg.corpus.name == "mix" and cfg.model.optimizer == "adam" and cfg.data.window == 64
    transformer = compose_pretrain([], config_name="pretrain_default_transformer")
    assert arch_kind(transformer.bilm_arch) == "transformer" and transformer.bilm_arch.transformer.dim == 128
    same = ("corpus", "vocab", "data", "model", "seed", "threads")  # the controlled comparison: only the arch differs
    assert all(transformer[key] == cfg[key] for key in same) and transformer.trainer.max_steps == cfg.trainer.max_steps


def test_the_published_shapes_are_bilm_arch_choices_with_the_downloads_options() -> None:
    from elmo_lab.bilm.options import BiLMOptions
    from elmo_lab.bilm.pretrained import PUBLISHED

    for name, arch in (("elmo_small", "elmo-small"), ("elmo_medium", "elmo-medium"),
                       ("elmo_original", "elmo-original")):
        plain = OmegaConf.to_container(compose_pretrain([f"bilm_arch={arch}"]).bilm_arch, enum_to_str=True)
        assert BiLMOptions.from_dict(plain) == PUBLISHED[name].options


def _defaults_repeated(node: dict, default: dict, prefix: str = "") -> list[str]:
    """Keys of a yaml ``node`` whose value is the schema's default ``default``."""
    found = []
    for key, value in node.items():
        if key not in default or key == "defaults":
            continue
        if isinstance(value, dict) and isinstance(default[key], dict):
            found += _defaults_repeated(value, default[key], f"{prefix}{key}.")
        elif value == default[key]:
            found.append(f"{prefix}{key}")
    return found


def test_the_yaml_files_hold_only_what_differs_from_the_schema() -> None:
    schema = OmegaConf.to_container(OmegaConf.structured(PretrainConfig), enum_to_str=True)
    files = {CONF / "pretrain.yaml": schema, CONF / "pretrain_default_bilm.yaml": schema,
             CONF / "pretrain_default_transformer.yaml": schema,
             **{p: schema["corpus"] for p in (CONF / "corpus").glob("*.yaml")},
             **{p: schema["bilm_arch"] for p in (CONF / "bilm_arch").glob("*.yaml")}}
    repeated = [f"{path.relative_to(REPO)}: {key}" for path, default in files.items()
                for key in _defaults_repeated(OmegaConf.to_container(OmegaConf.load(path)), default)]
    assert repeated == []


def test_validate_names_the_key_and_the_rule() -> None:
    for override, message in [("data.window=1", "data.window: must be >= 2, got 1"),
                              ("model.dropout=1.0", "model.dropout: must be in [0, 1), got 1.0"),
                              ("vocab.max_size=3", "vocab.max_size: must be >= 4 or null, got 3"),
                              ("data.lowercase_share=1.5", "data.lowercase_share: must be in [0, 1], got 1.5"),
                              ("bilm_arch=transformer-tiny bilm_arch.transformer.n_heads=3",
                               "bilm_arch.transformer.n_heads: must be >= 1 and divide bilm_arch.transformer.dim (8)"),
                              ("bilm_arch=transformer-tiny data.batching=stream",
                               "data.batching: must be rows for a transformer biLM"),
                              ("bilm_arch.transformer.dim=8", "bilm_arch: give exactly one of")]:
        with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
            validate_pretrain(compose_pretrain(override.split()))


@pytest.mark.slow
def test_a_rerun_with_another_config_is_refused_and_force_starts_over(tmp_path: Path, tiny_corpus_path: Path) -> None:
    run_dir = tmp_path / "run"
    args = ["corpus=file", f"corpus.path={tiny_corpus_path}", "bilm_arch=tiny", "trainer.max_epochs=1",
            "data.batch_size=16", "logger=csv", f"hydra.run.dir={run_dir}", "threads=1",
            "trainer.enable_progress_bar=false", "evaluate_test=false", "data.eval_batch_size=4"]
    first = _pretrain_cli([*args, "trainer.limit_val_batches=1"], timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    # the final evaluation honours the limit too: one batch of eval_batch_size rows of at most `window` words
    assert "valid perplexity (trainer.limit_val_batches=1):" in first.stdout
    meta = json.loads((run_dir / "model" / "lm_metadata.json").read_text())
    assert 0 < meta["perplexity"]["valid"]["n_predictions"] <= 4 * (64 + 1)
    args.append("trainer.limit_val_batches=1")
    saved = (run_dir / "run_config.yaml").read_text()
    checkpoint = (run_dir / "checkpoints" / "last.ckpt").stat().st_mtime_ns

    again = _pretrain_cli(args, timeout=300)  # finished: said so, nothing trained, evaluated or exported again
    assert again.returncode == 0 and "pretraining already finished: exported to" in again.stdout, again.stderr
    assert "perplexity:" not in again.stdout and "exported to " + str(run_dir) not in again.stdout.split(";")[1]
    assert (run_dir / "checkpoints" / "last.ckpt").stat().st_mtime_ns == checkpoint

    refused = _pretrain_cli([*args, "model.lr=0.1", "data.window=32", "threads=2"], timeout=300)
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert refused.returncode == 2 and len(lines) == 1, refused.stderr[-2000:]
    assert lines[0] == (f"error: {run_dir} holds a run started with another config (data.window: 64 -> 32; "
                        "model.lr: 0.2 -> 0.1); rerun with force=true to start it over, or pick another run_name=...")
    assert (run_dir / "run_config.yaml").read_text() == saved  # threads: result-neutral, not named
    assert (run_dir / "checkpoints" / "last.ckpt").stat().st_mtime_ns == checkpoint

    forced = _pretrain_cli([*args, "model.lr=0.1", "force=true", "evaluate_test=true"], timeout=300)
    assert forced.returncode == 0, forced.stderr[-2000:]
    # corpus=file without corpus.test_path: its "test" text is the dev text, so no test perplexity is printed
    assert "no test perplexity: corpus=file has no test text" in forced.stdout
    assert "test perplexity" not in forced.stdout.replace("no test perplexity", "")
    assert "Restoring states" not in forced.stdout + forced.stderr  # started over, not resumed
    assert OmegaConf.load(run_dir / "run_config.yaml").model.lr == 0.1


def test_regenerating_the_default_bilm_never_overwrites_the_shipped_one() -> None:
    result = _pretrain_cli(["--config-name", "pretrain_default_bilm", "--cfg", "job"])
    assert result.returncode == 0, result.stderr
    export = OmegaConf.create(result.stdout).export
    assert OmegaConf.to_container(export)["dir"] == "${paths.output_dir}/model"  # the run directory, not resources/
