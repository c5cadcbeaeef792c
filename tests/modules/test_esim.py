"""ESIM's layers (``elmo_lab/modules/esim.py``): shapes, and padding that changes nothing."""
from __future__ import annotations

import torch

from elmo_lab.modules.esim import ESIM, SoftAlignment, enhance, masked_softmax, max_avg_pool


def _masks(lengths: list[int], time: int) -> torch.Tensor:
    return torch.arange(time).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)  # (batch, time)


def test_shapes() -> None:
    torch.manual_seed(0)
    a, b = torch.randn(3, 5, 6), torch.randn(3, 4, 6)
    a_mask, b_mask = _masks([5, 3, 1], 5), _masks([4, 4, 2], 4)
    a_aligned, b_aligned = SoftAlignment()(a, b, a_mask, b_mask)
    assert a_aligned.shape == a.shape and b_aligned.shape == b.shape
    assert enhance(a, a_aligned).shape == (3, 5, 24) and max_avg_pool(a, a_mask).shape == (3, 12)
    model = ESIM(6, 8, num_classes=3)
    assert model(a, b, a_mask, b_mask).shape == (3, 3)


def test_alignment_reads_only_real_tokens_and_is_zero_at_padding() -> None:
    torch.manual_seed(0)
    a, b = torch.randn(1, 4, 3), torch.randn(1, 5, 3)
    a_mask, b_mask = _masks([2], 4), _masks([3], 5)
    a_aligned, b_aligned = SoftAlignment()(a, b, a_mask, b_mask)
    expected = torch.softmax(a[0, :2] @ b[0, :3].T, -1) @ b[0, :3]  # (2, 3): over the 3 real hypothesis tokens
    assert torch.allclose(a_aligned[0, :2], expected, atol=1e-6)
    assert a_aligned[0, 2:].abs().sum() == 0 and b_aligned[0, 3:].abs().sum() == 0
    assert masked_softmax(torch.randn(2, 3), torch.tensor([[False] * 3, [True, False, True]]))[0].sum() == 0


def test_padding_does_not_change_the_logits() -> None:
    torch.manual_seed(0)
    model = ESIM(6, 8, num_classes=3, dropout=0.5).eval()
    a, b = torch.randn(2, 7, 6), torch.randn(2, 9, 6)
    a_mask, b_mask = _masks([7, 4], 7), _masks([9, 2], 9)
    a, b = a * a_mask.unsqueeze(-1), b * b_mask.unsqueeze(-1)  # padded positions hold zeros, as an encoder's do
    batched = model(a, b, a_mask, b_mask)  # (2, 3)
    alone = model(a[1:, :4], b[1:, :2], a_mask[1:, :4], b_mask[1:, :2])  # the short pair without its padding
    assert torch.allclose(batched[1], alone[0], atol=1e-5)
    noisy = model(a + 5.0 * ~a_mask.unsqueeze(-1), b - 3.0 * ~b_mask.unsqueeze(-1), a_mask, b_mask)
    assert torch.allclose(noisy, batched, atol=1e-5)  # whatever the padding holds
