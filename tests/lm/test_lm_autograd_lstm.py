import torch

from elmo_lab.bilm.lstm import ProjectedLSTMLayer
from elmo_lab.bilm.model import BiLM
from elmo_lab.bilm.options import BiLMOptions
from elmo_lab.lm.autograd_lstm import patch_for_training, training_forward
from elmo_lab.lm.finetune import unpatch


def _run_bilm(bilm, char_ids):
    bilm.zero_grad()
    out = bilm(char_ids, keep_sentence_boundaries=True)
    (out.forward_top.square().sum() + out.backward_top.sum()).backward()
    return out.layers.detach(), [p.grad.clone() for p in bilm.parameters()]


def test_patched_bilm_gives_the_same_outputs_and_gradients(tiny_options):
    torch.manual_seed(0)
    bilm = BiLM(BiLMOptions.from_dict(tiny_options))
    char_ids = torch.randint(1, 262, (3, 7, 50))
    char_ids[1, 5:] = 0  # shorter rows
    char_ids[2, 2:] = 0
    layers, grads = _run_bilm(bilm, char_ids)
    assert patch_for_training(bilm) == 4
    layers2, grads2 = _run_bilm(bilm, char_ids)
    assert torch.allclose(layers, layers2, atol=1e-6)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(grads, grads2))
    unpatch(bilm)
    assert not any("forward" in m.__dict__ for m in bilm.modules())


def test_layer_loop_matches_with_active_clipping_state_and_padding():
    torch.manual_seed(0)
    layer = ProjectedLSTMLayer(6, 8, 4, 0.3, 0.3).double()
    with torch.no_grad():
        for p in layer.parameters():
            p.mul_(3)  # large activations: the clips are hit
    x = torch.randn(3, 7, 6, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(3, 8, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([7, 5, 2])
    weights = torch.randn(3, 7, 4, dtype=torch.float64)

    def run(forward):
        for t in [*layer.parameters(), x, c0, h0]:
            t.grad = None
        out, (c, h) = forward(layer, x, lengths, (c0, h0))
        ((out * weights).sum() + 1.7 * c.sum() + 0.3 * h.sum()).backward()
        return [out.detach(), c.detach(), h.detach(), x.grad, c0.grad, h0.grad,
                *[p.grad.clone() for p in layer.parameters()]]

    reference, ours = run(ProjectedLSTMLayer.forward), run(training_forward)
    assert (reference[1].abs() == 0.3).any()  # clipping was active
    for a, b in zip(reference, ours):
        assert torch.allclose(a, b, atol=1e-12)
