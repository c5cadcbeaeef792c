"""A task batch's way to the device: tensors move, token lists stay as they are, other types go to Lightning's own
walk; on the CPU the batch is returned untouched.  (The CUDA run itself: tests/gpu.)"""
from __future__ import annotations

from collections import namedtuple

import torch

from elmo_lab.training.module import ElmoTaskModule, _to_device


def test_the_walk_moves_tensors_and_leaves_tokens_and_hands_other_types_on() -> None:
    handed = []
    Pair = namedtuple("Pair", "a b")
    batch = {"tokens": [["a", "b"], ["c"]], "gold": [["X", "Y"], ["Z"]], "mask": torch.ones(2, 2),
             "nested": {"ids": torch.zeros(2), "n": 3}, "pair": Pair(1, 2), "words": ("x", "y")}
    out = _to_device(batch, torch.device("cpu"), lambda v: handed.append(v) or v)
    assert out["tokens"][1] is batch["tokens"][1] and out["words"] is batch["words"]  # string lists: not walked
    assert out["gold"] == batch["gold"] and out["nested"]["n"] == 3
    assert torch.equal(out["mask"], batch["mask"]) and torch.equal(out["nested"]["ids"], batch["nested"]["ids"])
    assert handed == [Pair(1, 2)]  # a namedtuple: Lightning's walk decides


def test_a_cpu_batch_is_returned_as_it_is() -> None:
    batch = {"tokens": [["a"]], "mask": torch.ones(1, 1)}
    assert ElmoTaskModule.transfer_batch_to_device(None, batch, torch.device("cpu"), 0) is batch
