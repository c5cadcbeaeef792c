"""The one optimizer and schedule factory (``elmo_lab.util.optim``): every name the configs offer builds, each with
its own settings; a linear schedule ends at 0; a name it does not know is an error naming the config key."""
from __future__ import annotations

import pytest
import torch

from elmo_lab.config.choices import LMOptimizer, Optimizer, Scheduler
from elmo_lab.util.optim import make_optimizer, with_schedule


@pytest.mark.parametrize("name", sorted({c.value for c in (*Optimizer, *LMOptimizer)}))
def test_every_optimizer_the_configs_offer_builds(name: str) -> None:
    weight = torch.nn.Parameter(torch.ones(3))
    opt = make_optimizer(name, [weight], lr=0.1, betas=(0.8, 0.9), momentum=0.5, initial_accumulator=1.0)
    (weight ** 2).sum().backward()
    opt.step()
    assert weight.detach().lt(1.0).all()  # a step downhill
    group = opt.param_groups[0]
    assert group.get("betas", (0.8, 0.9)) == (0.8, 0.9) and group.get("momentum", 0.5) == 0.5
    if name == "adagrad":
        assert group["initial_accumulator_value"] == 1.0


@pytest.mark.parametrize("name", [c.value for c in Scheduler])
def test_every_schedule_builds_and_linear_ends_at_zero(name: str) -> None:
    opt = make_optimizer("sgd", [torch.nn.Parameter(torch.ones(1))], lr=1.0)
    built = with_schedule(opt, name, monitor="val/acc", total_steps=4)
    if name == "none":
        assert built is opt
        return
    scheduler = built["lr_scheduler"]["scheduler"]
    if name == "linear":
        for _ in range(4):
            opt.step()
            scheduler.step()
        assert opt.param_groups[0]["lr"] == 0.0
    else:
        assert built["lr_scheduler"]["monitor"] == "val/acc"


def test_an_unknown_name_names_the_key() -> None:
    with pytest.raises(ValueError, match="task.optimizer: expected one of adam, adamw, sgd, adagrad, adadelta"):
        make_optimizer("lion", [], 0.1, key="task.optimizer")
    with pytest.raises(ValueError, match="model.lr_schedule: expected one of none, plateau, linear"):
        with_schedule(make_optimizer("sgd", [torch.nn.Parameter(torch.ones(1))], 0.1), "cosine",
                      key="model.lr_schedule")
