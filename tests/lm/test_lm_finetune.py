"""biLM fine-tuning on task text: ``finetune_bilm`` with and without a softmax side file, and inside
``train.py``'s pipeline (``bilm.finetune.enabled``)."""
import json

import pytest
import torch

from elmo_lab.bilm.model import BiLM
from elmo_lab.bilm.options import BiLMOptions
from elmo_lab.lm.export import export_lm
from elmo_lab.lm.finetune import finetune_bilm
from elmo_lab.lm.softmax import FullSoftmax
from elmo_lab.data.vocab import Vocabulary
from learning_helpers import keyword_sentences, trained_metrics
from tabular_helpers import write_rows


def _frozen_bilm(tiny_options):
    torch.manual_seed(0)
    bilm = BiLM(BiLMOptions.from_dict(tiny_options)).eval()
    for p in bilm.parameters():
        p.requires_grad_(False)
    return bilm


@pytest.mark.learning
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


@pytest.mark.learning
def test_train_py_finetunes_the_bilm_on_the_task_text_before_training(tiny_bilm_dir, tmp_path):
    """Real fine-tuning inside the training pipeline (no stand-in): the task's dev text gets a lower perplexity
    after it, and the task model still learns its labels with the fine-tuned biLM.  The text is random filler words
    (16 of them, so no model goes below ~16 from a near-uniform ~23): measured 23.2 -> 21.4."""
    for split, n, seed in (("train", 90, 0), ("dev", 20, 1), ("test", 30, 2)):
        rows = [(" ".join(words), str(label)) for words, label in keyword_sentences(n, ["bad dull", "good nice"], seed)]
        write_rows(tmp_path / "data" / f"{split}.csv", rows)
    run = tmp_path / "run"
    metrics = trained_metrics(["task=classify", f"task.data_dir={tmp_path / 'data'}", "task.hidden_dim=8",
                               "task.batch_size=10", "task.lr=0.03", "task.dropout=0.0", "trainer.max_epochs=6",
                               f"bilm.spec={tiny_bilm_dir}", "elmo.placement=input", "bilm.finetune.enabled=true",
                               "bilm.finetune.batch_size=4", "bilm.finetune.epochs=4", "bilm.finetune.lr=0.5"], run)
    report = json.loads((run / "finetune.json").read_text())
    assert report["steps"] > 0 and report["after"]["average"] < 0.95 * report["before"]["average"], report
    assert metrics["test/acc"] >= 0.85  # chance: 0.5
