"""Placements and mixes tested by what they do: with a stand-in encoder whose layer j alone carries a sentence's
label (the words never do), ``none`` stays near chance, ``input``, ``output`` and ``both`` learn it, ``mix=layer``
learns it only at layer j, a learned mix moves its weight there, and a large λ keeps the mix near uniform."""
from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from elmo_lab.elmo.placements import ElmoSettings, elmo_penalty
from elmo_lab.modules.encoders import masked_mean
from elmo_lab.probing.model import IdentityEncoder

from standin_encoders import LabelInLayer

SIGNAL, DEPTH, VOCAB = 1, 3, 40


def _data(n: int, seed: int) -> list[tuple[list[str], int]]:
    rng = random.Random(seed)
    return [([f"w{rng.randrange(VOCAB)}" for _ in range(rng.randrange(3, 8))], rng.randrange(2)) for _ in range(n)]


def _tensors(data: list, encoder: LabelInLayer) -> tuple:
    tokens = [t for t, _ in data]
    ids = torch.zeros(len(data), max(map(len, tokens)), dtype=torch.long)  # (n, time)
    for i, t in enumerate(tokens):
        ids[i, : len(t)] = torch.tensor([int(w[1:]) + 1 for w in t])
    return ids, ids.ne(0), encoder.encode(tokens), torch.tensor([y for _, y in data])  # layers (n, L+1, time, dim)


class _Classifier(nn.Module):
    """Word embeddings → ELMo placed around the identity → mean pooling → linear."""

    def __init__(self, settings: ElmoSettings) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB + 1, 8, padding_idx=0)
        self.encoder = settings.place(8, IdentityEncoder, DEPTH, 8)
        self.out = nn.Linear(self.encoder.output_dim, 2)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, layers: torch.Tensor) -> torch.Tensor:
        return self.out(masked_mean(self.encoder(self.embed(ids), mask, layers), mask))  # (n, 2)


def _fit(placement: str = "input", mix: str = "all", layer: int | None = None,
         l2: float = 0.0) -> tuple[float, nn.Module]:
    """Dev accuracy after 150 full-batch Adam steps on 200 training sentences, and the model."""
    train, dev = _data(200, 0), _data(200, 1)
    encoder = LabelInLayer({tuple(t): y for t, y in train + dev}, SIGNAL, depth=DEPTH, width=8)
    torch.manual_seed(0)
    model = _Classifier(ElmoSettings(placement=placement, mix=mix, layer=layer, l2_coef=l2))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    ids, mask, layers, labels = _tensors(train, encoder)
    for _ in range(150):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(ids, mask, layers), labels) + elmo_penalty(model)
        loss.backward()
        optimizer.step()
    ids, mask, layers, labels = _tensors(dev, encoder)
    with torch.no_grad():
        return (model(ids, mask, layers).argmax(-1) == labels).float().mean().item(), model


def test_none_stays_near_chance() -> None:
    assert _fit("none")[0] < 0.65  # the words carry no label: only memorising the training sentences


@pytest.mark.parametrize("placement", ["input", "output", "both"])
def test_every_placement_that_reads_the_encoder_learns_the_label(placement: str) -> None:
    assert _fit(placement)[0] > 0.9


def test_a_single_layer_learns_only_where_the_label_is() -> None:
    assert _fit(mix="layer", layer=SIGNAL)[0] > 0.9
    assert all(_fit(mix="layer", layer=j)[0] < 0.65 for j in range(DEPTH) if j != SIGNAL)


def test_the_learned_mix_moves_its_weight_to_that_layer_and_a_large_lambda_keeps_it_uniform() -> None:
    free = _fit(l2=0.0)[1].encoder.input_mix.normalized_weights().detach()
    held = _fit(l2=1.0)[1].encoder.input_mix.normalized_weights().detach()
    assert free.argmax().item() == SIGNAL and free[SIGNAL] > 0.5, free
    assert (held - 1 / DEPTH).abs().max() < (free - 1 / DEPTH).abs().max() / 3, (held, free)
