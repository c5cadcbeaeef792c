"""The run-directory check both entry points share (``elmo_lab.run.run_dir``): a rerun with another config is
refused naming every differing key, result-neutral keys may change, ``force`` starts over, only a writer writes."""
from __future__ import annotations

from pathlib import Path

import pytest

from elmo_lab.config.schema import ConfigError
from elmo_lab.run.run_dir import MAX_LISTED, RUN_CONFIG, differences, prepare_run_dir, without_keys

PLAIN = {"seed": 0, "threads": 1, "model": {"lr": 0.2, "dropout": 0.1}, "trainer": {"max_epochs": 2,
                                                                                    "enable_progress_bar": True}}


def _changed(**changes: object) -> dict:
    out = {**PLAIN, "model": dict(PLAIN["model"]), "trainer": dict(PLAIN["trainer"])}
    for dotted, value in changes.items():
        head, _, key = dotted.partition("__")
        if key:
            out[head][key] = value
        else:
            out[head] = value
    return out


def test_differences_lists_every_key_in_order_and_without_keys_copies() -> None:
    assert differences(PLAIN, _changed(seed=1, model__lr=0.1)) == ["model.lr: 0.2 -> 0.1", "seed: 0 -> 1"]
    assert differences(PLAIN, {**PLAIN, "extra": 1}) == ["extra: None -> 1"]
    trimmed = without_keys(PLAIN, ("threads", "trainer.enable_progress_bar", "no.such"))
    assert trimmed == {"seed": 0, "model": PLAIN["model"], "trainer": {"max_epochs": 2}}
    assert PLAIN["trainer"] == {"max_epochs": 2, "enable_progress_bar": True}  # unchanged


def test_a_rerun_with_another_config_is_refused_and_neutral_keys_may_change(tmp_path: Path) -> None:
    prepare_run_dir(tmp_path, PLAIN, force=False)
    assert "threads" not in (tmp_path / RUN_CONFIG).read_text()  # result-neutral: not even saved
    prepare_run_dir(tmp_path, _changed(threads=2, trainer__enable_progress_bar=False), force=False)
    with pytest.raises(ConfigError, match=r"another config \(model.lr: 0.2 -> 0.1; seed: 0 -> 1\); rerun with "
                                          r"force=true"):
        prepare_run_dir(tmp_path, _changed(seed=1, model__lr=0.1), force=False, writer=False)
    many = {f"k{i}": i for i in range(MAX_LISTED + 2)}
    with pytest.raises(ConfigError, match=r"k4: None -> 4; and 2 more\)"):
        prepare_run_dir(tmp_path, {**PLAIN, **many}, force=False)


def test_force_deletes_what_a_run_left_and_only_a_writer_writes(tmp_path: Path) -> None:
    prepare_run_dir(tmp_path, PLAIN, force=False)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_text("x")
    for name in ("results.json", "notes.txt"):
        (tmp_path / name).write_text("x")
    changed = _changed(model__lr=0.1)
    prepare_run_dir(tmp_path, changed, force=True, writer=False, outputs=("results.json",))  # another rank
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file() and "0.2" in (tmp_path / RUN_CONFIG).read_text()
    prepare_run_dir(tmp_path, changed, force=True, outputs=("results.json",))
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "results.json").exists()
    assert (tmp_path / "notes.txt").is_file() and "0.1" in (tmp_path / RUN_CONFIG).read_text()
    prepare_run_dir(tmp_path, changed, force=False)  # the new config is the one a rerun is checked against


def test_a_run_from_before_bilm_kind_existed_resumes_and_groups_as_lstm(tmp_path: Path) -> None:
    """``bilm.kind`` was added later: a run directory (and a results.json) without it reads as ``lstm``, the only
    encoder there was; another kind is still a change."""
    from omegaconf import OmegaConf

    from elmo_lab.report.runs import settings_of

    old = {"bilm": {"spec": "default"}, "seed": 0}
    OmegaConf.save(OmegaConf.create(old), tmp_path / RUN_CONFIG)
    prepare_run_dir(tmp_path, {"bilm": {"spec": "default", "kind": "lstm"}, "seed": 0}, force=False, writer=False)
    with pytest.raises(ConfigError, match=r"bilm.kind: 'lstm' -> 'standin'"):
        prepare_run_dir(tmp_path, {"bilm": {"spec": "default", "kind": "standin"}, "seed": 0}, force=False,
                        writer=False)
    assert settings_of({"config": old})["bilm.kind"] == "lstm"
