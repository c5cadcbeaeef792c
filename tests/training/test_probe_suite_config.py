"""``experiment=probe_suite``: its task list is the suite's, and every job of the sweep composes with its own run
directory, representation and controls."""
from __future__ import annotations

import itertools

import pytest

from elmo_lab.config.schema import ConfigError, probe_choices
from train_helpers import CONF, compose_train, train_composer

SUITE_TASKS = ["probe", "probe_chunk", "probe_ner", "probe_upos", "probe_xpos", "probe_deprel", "edge_deprel",
               "edge_entities", "edge_spr2", "edge_supersense", "arc_head", "structural_distance", "structural_depth"]


def test_every_job_of_the_suite_composes_with_its_own_run_directory() -> None:
    params = compose_train(["experiment=probe_suite"]).hydra.sweeper.params
    assert params["task"].split(",") == SUITE_TASKS
    assert params["probe"] == "layer0,layer1,layer2,upto1,mix"  # the default biLM: L = 2
    present = [t for t in SUITE_TASKS if (CONF / "task" / f"{t}.yaml").is_file()]
    assert present == SUITE_TASKS  # every task of the suite has its config
    dirs = set()
    controls = list(itertools.product(params["task.control_task"].split(","), params["bilm.random_weights"].split(",")))
    jobs = [(task, probe, *control, "0") for task in present for probe in params["probe"].split(",")
            for control in (controls if task == "probe_chunk" else controls[:1])]  # every control on one task
    jobs.append(("probe_chunk", "upto1", "true", "true", params["seed"].split(",")[1]))
    with train_composer() as compose_job:  # 81 jobs: Hydra set up once
        configs = [compose_job(["experiment=probe_suite", f"task={task}", f"probe={probe}",
                                f"task.control_task={control}", f"bilm.random_weights={random}", f"seed={seed}"])
                   for task, probe, control, random, seed in jobs]
    for (task, probe, control, random, seed), cfg in zip(jobs, configs):
        assert cfg.task.name == task and str(cfg.elmo.placement) == "input" and cfg.elmo.dropout == 0.0
        assert (str(cfg.elmo.mix), cfg.elmo.layer, cfg.elmo.max_layer) == {
            "layer0": ("layer", 0, None), "layer1": ("layer", 1, None), "layer2": ("layer", 2, None),
            "upto1": ("all", None, 1), "mix": ("all", None, None)}[probe]
        assert cfg.task.control_task == (control == "true") and cfg.bilm.random_weights == (random == "true")
        dirs.add(f"{cfg.hydra.sweep.dir}/{cfg.hydra.sweep.subdir}")
    assert len(dirs) == len(jobs)  # one run directory per job
    assert "multirun/probe_suite/default/probe_chunk/probe-upto1-random-control-seed1" in dirs


def test_cumulative_choices_follow_the_encoder_and_are_checked_at_composition() -> None:
    assert probe_choices({"kind": "lstm", "spec": "default"}, True) == "layer0,layer1,layer2,upto1,mix"
    assert probe_choices({"kind": "lstm", "spec": "default"}) == "layer0,layer1,layer2,mix"
    with pytest.raises(ConfigError, match="elmo.max_layer"):
        from elmo_lab.config.schema import validate
        validate(compose_train(["experiment=probe_layers", "probe=layer1", "elmo.max_layer=1"]))
