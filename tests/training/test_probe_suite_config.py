"""``experiment=probe_suite``: its task list is the suite's, and every job of the sweep composes with its own run
directory, representation and controls."""
from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from elmo_lab.config.probes import probe_choices
from elmo_lab.config.schema import ConfigError
from train_helpers import CONF, compose_train, train_composer

SUITE_TASKS = ["arc_head", "structural_distance", "edge_deprel", "edge_spr2", "structural_depth", "edge_entities",
               "edge_supersense", "probe", "probe_chunk", "probe_ner", "probe_upos", "probe_xpos", "probe_deprel"]


def test_every_job_of_the_suite_composes_with_its_own_folder_and_probes() -> None:
    """26 probe-set jobs (13 tasks x trained / random weights); each job's probes: 5 representations x the control
    task off/on x 3 seeds, each with the run directory and settings a single job of its own would have."""
    from elmo_lab.config.schema import validate
    from elmo_lab.training.probe_set import probe_config

    params = compose_train(["experiment=probe_suite"]).hydra.sweeper.params
    assert set(params) == {"task", "bilm.random_weights"}
    assert params["task"].split(",") == SUITE_TASKS and params["bilm.random_weights"] == "false,true"
    present = [t for t in SUITE_TASKS if (CONF / "task" / f"{t}.yaml").is_file()]
    assert present == SUITE_TASKS  # every task of the suite has its config
    jobs = list(itertools.product(present, ("false", "true")))
    with train_composer() as compose_job:  # 26 jobs: Hydra set up once
        configs = [compose_job(["experiment=probe_suite", f"task={task}", f"bilm.random_weights={random}"])
                   for task, random in jobs]
    folders = set()
    for (task, random), cfg in zip(jobs, configs):
        validate(cfg)
        assert cfg.task.name == task and cfg.bilm.random_weights == (random == "true") and cfg.elmo.dropout == 0.0
        assert cfg.probe_set.probes == "layer0,layer1,layer2,upto1,mix"  # the default biLM: L = 2
        assert list(cfg.probe_set.control_task) == [False, True] and list(cfg.probe_set.seeds) == [0, 1, 2]
        folders.add(f"{cfg.hydra.sweep.dir}/{cfg.hydra.sweep.subdir}")
    assert len(folders) == len(jobs)  # one folder per job
    assert "multirun/probe_suite/default/probe_chunk/probe-set-random" in folders
    chunk = configs[jobs.index(("probe_chunk", "true"))]
    folder = Path("multirun/probe_suite/default/probe_chunk")
    settings = {}
    for probe in ("layer0", "layer1", "layer2", "upto1", "mix"):
        cfg = probe_config(chunk, probe, True, 1, folder)
        validate(cfg)
        assert cfg.task.control_task and cfg.seed == 1 and cfg.probe_set.probes is None
        settings[Path(cfg.paths.output_dir).name] = (str(cfg.elmo.mix), cfg.elmo.layer, cfg.elmo.max_layer)
    assert settings == {"probe-layer0-random-control-seed1": ("layer", 0, None),
                        "probe-layer1-random-control-seed1": ("layer", 1, None),
                        "probe-layer2-random-control-seed1": ("layer", 2, None),
                        "probe-upto1-random-control-seed1": ("all", None, 1),
                        "probe-all-random-control-seed1": ("all", None, None)}


def test_cumulative_choices_follow_the_encoder_and_are_checked_at_composition() -> None:
    assert probe_choices({"kind": "lstm", "spec": "default"}, True) == "layer0,layer1,layer2,upto1,mix"
    assert probe_choices({"kind": "lstm", "spec": "default"}) == "layer0,layer1,layer2,mix"
    with pytest.raises(ConfigError, match="elmo.max_layer"):
        from elmo_lab.config.schema import validate
        validate(compose_train(["experiment=probe_layers", "probe=layer1", "elmo.max_layer=1"]))
