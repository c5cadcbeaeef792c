"""The linear-chain CRF against brute force over every tag path of tiny cases: partition, scores, Viterbi."""

import itertools
import math

import pytest
import torch

from elmo_lab.data.tagging import allowed_transitions
from elmo_lab.modules.crf import ConditionalRandomField

BIO = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
BIOES = ["O", "B-PER", "I-PER", "E-PER", "S-PER"]
LENGTHS = [4, 2, 1, 3, 0]


def _crf(num_tags, seed=0, **kwargs):
    torch.manual_seed(seed)
    crf = ConditionalRandomField(num_tags, **kwargs)
    with torch.no_grad():  # larger than the initial values, so that paths differ clearly
        for parameter in crf.parameters():
            parameter.normal_(0.0, 1.0)
    return crf


def _batch(num_tags, lengths=LENGTHS, seed=1):
    generator = torch.Generator().manual_seed(seed)
    time = max(lengths)
    emissions = torch.randn(len(lengths), time, num_tags, generator=generator, dtype=torch.float64) * 2
    mask = torch.arange(time).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)  # (batch, time)
    emissions = emissions.masked_fill(~mask.unsqueeze(2), 1e3)  # padding must not matter
    return emissions, mask


def _path_score(crf, emissions_row, path, constrained=False):
    """The score of one path by the definition, in float64; None if constrained and the path is forbidden."""
    if not path:
        return 0.0
    transitions = crf.transitions.detach().double()
    zeros = torch.zeros(crf.num_tags, dtype=torch.float64)
    start = crf.start_transitions.detach().double() if crf.include_start_end_transitions else zeros
    end = crf.end_transitions.detach().double() if crf.include_start_end_transitions else zeros
    if constrained and not (crf.start_allowed[path[0]] and crf.end_allowed[path[-1]]
                            and all(crf.allowed[a, b] for a, b in zip(path, path[1:]))):
        return None
    total = start[path[0]] + end[path[-1]] + sum(emissions_row[t, tag] for t, tag in enumerate(path))
    return float(total + sum(transitions[a, b] for a, b in zip(path, path[1:])))


def _all_paths(num_tags, length):
    return [list(path) for path in itertools.product(range(num_tags), repeat=length)]


@pytest.mark.parametrize("start_end", [True, False])
def test_partition_and_likelihood_equal_brute_force(start_end):
    crf = _crf(4, include_start_end_transitions=start_end)
    emissions, mask = _batch(4)
    log_z = crf.log_partition(emissions, mask)
    tags = torch.randint(0, 4, mask.shape, generator=torch.Generator().manual_seed(2)).masked_fill(~mask, -100)
    likelihood = crf.log_likelihood(emissions, tags, mask, reduction="none")
    for row, length in enumerate(LENGTHS):
        scores = [_path_score(crf, emissions[row], path) for path in _all_paths(4, length)]
        expected = math.log(sum(math.exp(score) for score in scores))
        assert log_z[row].item() == pytest.approx(expected, abs=1e-9)
        gold = tags[row, :length].tolist()
        assert likelihood[row].item() == pytest.approx(_path_score(crf, emissions[row], gold) - expected, abs=1e-9)
    assert likelihood[-1].item() == 0.0  # the empty row
    assert crf.log_likelihood(emissions, tags, mask).item() == pytest.approx(likelihood.sum().item())
    assert crf(emissions, tags, mask, reduction="mean").item() == pytest.approx(likelihood.mean().item())


def test_probabilities_of_all_paths_sum_to_one():
    crf = _crf(3)
    emissions, mask = _batch(3, lengths=[3])
    paths = torch.tensor(_all_paths(3, 3))  # (27, 3)
    likelihood = crf.log_likelihood(emissions.expand(len(paths), -1, -1), paths, mask.expand(len(paths), -1),
                                    reduction="none")
    assert likelihood.exp().sum().item() == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("names, scheme", [(BIO, "bio"), (BIOES, "bioes"), (BIO, None)])
@pytest.mark.parametrize("start_end", [True, False])
def test_viterbi_is_the_best_allowed_path(names, scheme, start_end):
    constraints = allowed_transitions(names, scheme) if scheme else None
    crf = _crf(len(names), seed=3, constraints=constraints, include_start_end_transitions=start_end)
    emissions, mask = _batch(len(names), seed=4)
    paths, scores = crf.viterbi(emissions, mask)
    decoded = crf.decode(emissions, mask)
    assert [len(path) for path in decoded] == LENGTHS
    for row, length in enumerate(LENGTHS):
        candidates = [(score, path) for path in _all_paths(len(names), length)
                      if (score := _path_score(crf, emissions[row], path, constrained=True)) is not None]
        best_score, best_path = max(candidates)
        assert decoded[row] == best_path
        assert scores[row].item() == pytest.approx(best_score, abs=1e-9)
        assert paths[row, length:].eq(0).all()


def test_constraints_change_the_decoded_path():
    # Emissions that favour I-PER first: unconstrained decoding takes it, constrained decoding cannot.
    emissions = torch.tensor([[[0.0, 1.0, 5.0, 0.0, 0.0], [0.0, 0.0, 5.0, 0.0, 0.0]]])
    mask = torch.ones(1, 2, dtype=torch.bool)
    free = ConditionalRandomField(5, include_start_end_transitions=False)
    constrained = ConditionalRandomField(5, allowed_transitions(BIO, "bio"), include_start_end_transitions=False)
    for crf in (free, constrained):
        torch.nn.init.zeros_(crf.transitions)
    assert free.decode(emissions, mask) == [[2, 2]]
    assert constrained.decode(emissions, mask) == [[1, 2]]


def test_gradients_flow_and_emission_gradients_are_marginals():
    crf = _crf(5, constraints=allowed_transitions(BIO, "bio"))
    emissions, mask = _batch(5)
    emissions = emissions.float().masked_fill(~mask.unsqueeze(2), 0.0).requires_grad_()
    tags = torch.zeros(mask.shape, dtype=torch.long)
    loss = -crf.log_likelihood(emissions, tags, mask)
    loss.backward()
    for parameter in crf.parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0 and parameter.grad.isfinite().all()
    # d log Z / d emissions are the tag marginals: they sum to 1 at real tokens, 0 at padding.
    crf.zero_grad()
    marginals = torch.autograd.grad(crf.log_partition(emissions, mask).sum(), emissions)[0]  # (batch, time, tags)
    assert torch.allclose(marginals.sum(-1), mask.float(), atol=1e-5)


def test_half_precision_emissions_are_upcast_and_bad_shapes_refused():
    crf = _crf(3)
    emissions, mask = _batch(3)
    assert crf.log_partition(emissions.half(), mask).dtype == torch.float32
    assert crf.log_partition(emissions[:, :0], mask[:, :0]).tolist() == [0.0] * len(LENGTHS)
    assert crf.decode(emissions[:, :0], mask[:, :0]) == [[] for _ in LENGTHS]
    with pytest.raises(ValueError, match=r"emissions of shape \(5, 4, 3\): expected \(batch, time, 4\)"):
        ConditionalRandomField(4).log_partition(emissions, mask)
    with pytest.raises(ValueError, match="mask of shape"):
        crf.decode(emissions, mask[:, :2])
    with pytest.raises(ValueError, match="reduction='max'"):
        crf.log_likelihood(emissions, mask.long(), mask, reduction="max")
    with pytest.raises(ValueError, match=r"constraints of shapes \(5, 5\)"):
        ConditionalRandomField(3, allowed_transitions(BIO, "bio"))
    never_ends = allowed_transitions(BIO, "bio")._replace(end=torch.zeros(5, dtype=torch.bool))
    with pytest.raises(ValueError, match="constraints allow no tag"):
        ConditionalRandomField(5, never_ends)
    assert "allowed" not in ConditionalRandomField(5, allowed_transitions(BIO, "bio")).state_dict()
