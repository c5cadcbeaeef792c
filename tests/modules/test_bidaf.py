"""BiDAF layers: shapes, masking (padding never attended to nor chosen), best_span against brute force, gradients."""

import itertools
import math

import pytest
import torch

from elmo_lab.modules.bidaf import (
    BiAttention,
    BiDAFSpanPredictor,
    SelfAttention,
    TrilinearSimilarity,
    best_span,
    masked_softmax,
    span_loss,
)


def _mask(lengths, time):
    return torch.arange(time).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)  # (batch, time)


def _inputs(seed=0, dim=6):
    generator = torch.Generator().manual_seed(seed)
    passage_mask, question_mask = _mask([7, 4, 1], 7), _mask([3, 5, 2], 5)
    passage = torch.randn(3, 7, dim, generator=generator)
    question = torch.randn(3, 5, dim, generator=generator)
    return passage, question, passage_mask, question_mask


def _scramble_padding(x, mask, seed=1):
    noise = 100 * torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))
    return torch.where(mask.unsqueeze(-1), x, noise)


def test_trilinear_similarity_is_w_dot_concatenation():
    torch.manual_seed(0)
    similarity = TrilinearSimilarity(4)
    a, b = torch.randn(2, 3, 4), torch.randn(2, 5, 4)
    w = similarity.weight.reshape(-1)  # [w_a; w_b; w_ab]
    expected = torch.empty(2, 3, 5)
    for n, i, j in itertools.product(range(2), range(3), range(5)):
        expected[n, i, j] = w @ torch.cat([a[n, i], b[n, j], a[n, i] * b[n, j]])
    torch.testing.assert_close(similarity(a, b), expected)


def test_biattention_shapes_and_padding_gets_no_attention():
    torch.manual_seed(0)
    passage, question, passage_mask, question_mask = _inputs()
    attention = BiAttention(6)
    g = attention(passage, question, passage_mask, question_mask)
    assert g.shape == (3, 7, 24) and attention.output_dim == 24
    assert (g[~passage_mask] == 0).all()
    torch.testing.assert_close(g[:, :, :6] * passage_mask.unsqueeze(-1), passage * passage_mask.unsqueeze(-1))
    scrambled = attention(_scramble_padding(passage, passage_mask), _scramble_padding(question, question_mask, 2),
                          passage_mask, question_mask)
    torch.testing.assert_close(scrambled, g)  # padded words of either side change nothing


def test_masked_softmax_rows_sum_to_one_or_zero():
    logits = torch.randn(2, 4)
    mask = torch.tensor([[True, False, True, False], [False, False, False, False]])
    weights = masked_softmax(logits, mask)
    assert (weights[~mask] == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.tensor([1.0, 0.0]))


def test_self_attention_masks_diagonal_and_padding_and_is_residual():
    torch.manual_seed(0)
    passage, _, passage_mask, _ = _inputs(dim=8)
    layer = SelfAttention(8, 5)
    s = layer.encoder(passage, passage_mask)
    weights = layer.attention(s, passage_mask)  # (batch, T, T)
    assert weights.shape == (3, 7, 7)
    assert (torch.diagonal(weights, dim1=1, dim2=2) == 0).all()
    padded = ~(passage_mask.unsqueeze(1) & passage_mask.unsqueeze(2))  # (batch, T, T): padded row or column
    assert (weights[padded] == 0).all()
    torch.testing.assert_close(weights[0].sum(-1), torch.ones(7))  # 7 valid words: each attends to the 6 others
    assert (weights[2] == 0).all()  # a one-word passage has no other word to attend to
    out = layer(passage, passage_mask)
    assert out.shape == passage.shape and (out[~passage_mask] == 0).all()
    torch.testing.assert_close(layer(_scramble_padding(passage, passage_mask), passage_mask), out)
    with torch.no_grad():
        layer.project[0].weight.zero_()
        layer.project[0].bias.zero_()
    torch.testing.assert_close(layer(passage, passage_mask), passage * passage_mask.unsqueeze(-1))  # x + ReLU(0)


@pytest.mark.parametrize("self_attention", [False, True])
def test_span_predictor_shapes_masking_and_gradients(self_attention):
    torch.manual_seed(0)
    passage, question, passage_mask, question_mask = _inputs()
    model = BiDAFSpanPredictor(6, 4, self_attention=self_attention, dropout=0.2)
    model.eval()
    start, end = model(passage, question, passage_mask, question_mask)
    assert start.shape == end.shape == (3, 7)
    assert (start[~passage_mask] == torch.finfo(start.dtype).min).all()
    assert (end[~passage_mask] == torch.finfo(end.dtype).min).all()
    assert torch.isfinite(start).all() and torch.isfinite(end).all()
    scrambled = model(_scramble_padding(passage, passage_mask), _scramble_padding(question, question_mask, 2),
                      passage_mask, question_mask)
    torch.testing.assert_close(scrambled[0][passage_mask], start[passage_mask])
    torch.testing.assert_close(scrambled[1][passage_mask], end[passage_mask])
    spans = best_span(start, end, passage_mask)
    assert passage_mask.gather(1, spans).all()  # never a padded position

    model.train()
    passage.requires_grad_(True)
    question.requires_grad_(True)
    start, end = model(passage, question, passage_mask, question_mask)
    loss = span_loss(start, end, passage_mask, torch.tensor([[1, 3], [0, 3], [0, 0]]))
    loss.backward()
    assert torch.isfinite(loss)
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name  # (no bias anywhere is softmax-invariant)
    assert passage.grad[passage_mask].abs().sum() > 0 and question.grad[question_mask].abs().sum() > 0
    assert (passage.grad[~passage_mask] == 0).all() and (question.grad[~question_mask] == 0).all()


def test_span_loss_is_start_plus_end_cross_entropy():
    start, end = torch.randn(2, 5), torch.randn(2, 5)
    mask = _mask([5, 3], 5)
    spans = torch.tensor([[1, 4], [0, 2]])
    expected = 0.0
    for row, (s, e) in enumerate(spans.tolist()):
        n = int(mask[row].sum())
        expected -= torch.log_softmax(start[row, :n], 0)[s] + torch.log_softmax(end[row, :n], 0)[e]
    torch.testing.assert_close(span_loss(start, end, mask, spans), expected / 2)
    noisy = torch.where(mask, start, torch.full_like(start, 50.0))
    torch.testing.assert_close(span_loss(noisy, end, mask, spans), expected / 2)  # padding is not in the softmax


def _brute_force(start, end, mask, max_answer_len):
    start_lp, end_lp = torch.log_softmax(start[mask], 0), torch.log_softmax(end[mask], 0)
    positions = mask.nonzero().squeeze(1).tolist()
    best, best_pair = -math.inf, (0, 0)
    for a, i in enumerate(positions):
        for b, j in enumerate(positions):
            if i <= j and j - i < max_answer_len and start_lp[a] + end_lp[b] > best:
                best, best_pair = (start_lp[a] + end_lp[b]).item(), (i, j)
    return best_pair


@pytest.mark.parametrize("max_answer_len", [1, 2, 3, 17, 40])
def test_best_span_matches_brute_force(max_answer_len):
    generator = torch.Generator().manual_seed(max_answer_len)
    for trial in range(20):
        batch, time = 4, int(torch.randint(1, 25, (), generator=generator))
        start = 3 * torch.randn(batch, time, generator=generator)
        end = 3 * torch.randn(batch, time, generator=generator)
        mask = torch.rand(batch, time, generator=generator) < 0.8
        mask[:, 0] |= ~mask.any(1)  # at least one valid position per row
        if trial % 2:  # contiguous masks too, as the task produces them
            lengths = torch.randint(1, time + 1, (batch,), generator=generator)
            mask = torch.arange(time) < lengths.unsqueeze(1)
        spans = best_span(start, end, mask, max_answer_len)
        assert spans.shape == (batch, 2) and spans.dtype == torch.long
        for row in range(batch):
            assert tuple(spans[row].tolist()) == _brute_force(start[row], end[row], mask[row], max_answer_len)


def test_best_span_never_picks_padding_or_inverted_spans():
    start = torch.tensor([[0.0, 0.0, 9.0, 9.0], [0.0, 0.0, 5.0, 0.0]])
    end = torch.tensor([[9.0, 0.0, 1.0, 9.0], [5.0, 0.0, 0.0, 1.0]])
    mask = _mask([3, 4], 4)
    # row 0: (3, 3) would score highest but 3 is padding; (2, 2) beats (0, 0) by 1
    # row 1: (2, 0) would score highest but is inverted; (2, 3) beats (0, 0) by 1
    assert best_span(start, end, mask, 17).tolist() == [[2, 2], [2, 3]]
    assert best_span(start, end, mask, 1).tolist() == [[2, 2], [0, 0]]  # one-token answers only
    assert best_span(start, end, _mask([0, 4], 4), 17)[0].tolist() == [0, 0]  # no valid position
    with pytest.raises(ValueError, match="max_answer_len=0"):
        best_span(start, end, mask, 0)
