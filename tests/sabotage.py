"""Sabotage, to show that the learning checks can fail: ``ELMO_LAB_SABOTAGE=frozen`` undoes every optimiser step
(torch's global optimizer step hooks put the parameters back after each step); ``ELMO_LAB_SABOTAGE=permuted``
shuffles the training labels of every batch across its examples (tokens for taggers, answer spans for QA) before
the task model sees them, so labels no longer go with their inputs.  Validation and test data are untouched.

Installed by ``tests/conftest.py`` when the variable is set; it reaches training in the pytest process only (not
``train.py`` subprocesses).  The learning checks are marked ``learning``:

    ELMO_LAB_SABOTAGE=frozen python -m pytest -q -m learning tests
    ELMO_LAB_SABOTAGE=permuted python -m pytest -q -m learning tests

Every selected test must fail (docs/benchmarks.md#learning-checks lists the last run).
"""
from __future__ import annotations

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

MODES = ("frozen", "permuted")
IGNORED = -1  # the probe's padding label


def undo_optimizer_steps() -> None:
    """Every ``optimizer.step()`` of every optimiser leaves the parameters as they were."""
    saved: dict[int, list[torch.Tensor]] = {}

    def before(optimizer: torch.optim.Optimizer, args, kwargs) -> None:
        saved[id(optimizer)] = [p.detach().clone() for g in optimizer.param_groups for p in g["params"]]

    def after(optimizer: torch.optim.Optimizer, args, kwargs) -> None:
        params = [p for g in optimizer.param_groups for p in g["params"]]
        with torch.no_grad():
            for p, old in zip(params, saved.pop(id(optimizer))):
                p.copy_(old)

    register_optimizer_step_pre_hook(before)
    register_optimizer_step_post_hook(after)


def _shuffle_valid(labels: torch.Tensor, valid: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``labels`` with the entries where ``valid`` holds shuffled among themselves."""
    out = labels.clone()
    values = labels[valid]  # (n,)
    out[valid] = values[torch.randperm(values.numel(), generator=generator)]
    return out


def _derangement(n: int, generator: torch.Generator) -> torch.Tensor:
    """A random permutation of ``range(n)`` without fixed points (for n > 1): each row takes another row's span.
    (A span's position means something only in its own passage, so a plain shuffle that leaves 1/n of them in place
    still teaches where answers are.)"""
    cycle = torch.randperm(n, generator=generator)  # (n,)
    order = torch.empty_like(cycle)
    order[cycle] = cycle.roll(1)
    return order


def _random_tree(n: int, generator: torch.Generator) -> list[int]:
    """Heads (1-based, 0 = root) of a chain through the ``n`` words in a random order."""
    order = (torch.randperm(n, generator=generator) + 1).tolist()
    heads = [0] * n
    for parent, child in zip(order, order[1:]):
        heads[child - 1] = parent
    return heads


def permute_batch_labels(batch: dict, generator: torch.Generator) -> dict:
    """The batch with its labels shuffled: sentence labels and answer spans across examples, tags across tokens,
    dependency trees replaced by random ones."""
    batch = dict(batch)
    if "heads" in batch:  # tree probes: a list of heads per sentence; a random tree of the same size instead
        batch["heads"] = [_random_tree(len(heads), generator) for heads in batch["heads"]]
    if "tags" in batch:  # NER: (batch, time) under the mask
        batch["tags"] = _shuffle_valid(batch["tags"], batch["mask"], generator)
    if "labels" in batch:
        labels = batch["labels"]
        valid = labels.ne(IGNORED) if labels.dim() > 1 else torch.ones_like(labels, dtype=torch.bool)
        batch["labels"] = _shuffle_valid(labels, valid, generator)
    if "spans" in batch:  # QA: (batch, 2), whole rows move, none stays (a kept span would be a signal to learn)
        order = _derangement(batch["spans"].size(0), generator)
        lengths = batch["passage"]["mask"].sum(1)  # (batch,)
        batch["spans"] = torch.minimum(batch["spans"][order], (lengths - 1).unsqueeze(1))
    return batch


def permute_training_labels() -> None:
    """Every task model's ``training_loss`` (what each training step minimises, in Lightning's loop and in a
    probe-set job) sees its batch with the labels shuffled."""
    from elmo_lab.training.module import ElmoTaskModule

    original = ElmoTaskModule.training_loss
    generator = torch.Generator().manual_seed(0)

    def training_loss(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        return original(self, permute_batch_labels(batch, generator))

    ElmoTaskModule.training_loss = training_loss


def install(mode: str) -> None:
    if mode not in MODES:
        raise SystemExit(f"error: ELMO_LAB_SABOTAGE: invalid value {mode!r}; valid choices: {', '.join(MODES)}")
    undo_optimizer_steps() if mode == "frozen" else permute_training_labels()
