import torch

from elmo_lab.bilm.model import BiLM
from elmo_lab.bilm.options import BiLMOptions
from elmo_lab.lm.export import export_lm
from elmo_lab.lm.finetune import finetune_bilm
from elmo_lab.lm.softmax import FullSoftmax
from elmo_lab.data.vocab import Vocabulary


def _frozen_bilm(tiny_options):
    torch.manual_seed(0)
    bilm = BiLM(BiLMOptions.from_dict(tiny_options)).eval()
    for p in bilm.parameters():
        p.requires_grad_(False)
    return bilm


def test_finetune_with_a_softmax_side_file_lowers_dev_perplexity(tmp_path, tiny_options, tiny_sentences):
    bilm = _frozen_bilm(tiny_options)
    vocab = Vocabulary.from_sentences(tiny_sentences)
    export_lm(tmp_path, bilm, FullSoftmax(8, len(vocab)), vocab)
    weights_before = [p.clone() for p in bilm.parameters()]
    result = finetune_bilm(bilm, tiny_sentences[:150], tiny_sentences[300:330], epochs=1, lr=0.02, batch_size=8,
                           softmax_source=tmp_path, optimizer="adam")
    assert set(result["before"]) == set(result["after"]) == {"forward", "backward", "average"}
    assert result["after"]["average"] < 0.9 * result["before"]["average"]
    assert result["softmax"].startswith("pretrained softmax") and result["steps"] > 0
    # the biLM changed, and is handed back frozen and in eval mode as it came
    assert any(not torch.equal(a, b) for a, b in zip(weights_before, bilm.parameters()))
    assert not bilm.training and not any(p.requires_grad for p in bilm.parameters())


def test_finetune_without_softmax_trains_a_fresh_task_softmax_first(tiny_options, tiny_sentences):
    bilm = _frozen_bilm(tiny_options)
    weights = [p.clone() for p in bilm.parameters()]
    result = finetune_bilm(bilm, tiny_sentences[:150], tiny_sentences[300:330], epochs=1, lr=0.02, batch_size=8,
                           softmax_source=None, optimizer="adam", max_steps=0)
    assert result["softmax"].startswith("fresh softmax over the task training vocabulary")
    assert result["softmax_steps"] > 0 and result["steps"] == 0
    assert result["vocab_size"] == len({w for s in tiny_sentences[:150] for w in s}) + 3
    # the softmax-only phase leaves the biLM alone; "before" is measured after it (better than a uniform guess)
    assert all(torch.equal(a, b) for a, b in zip(weights, bilm.parameters()))
    assert result["before"] == result["after"]
    assert result["before"]["forward"] < result["vocab_size"]
