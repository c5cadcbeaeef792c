"""Single-text classification on a user's own data (``task=classify``): any labelled sentences or documents.

Data (``elmo_lab.data.tabular``, ``elmo_lab.data.hf``): ``task.data_dir=DIR`` with ``train``, ``dev`` (or
``validation``, ``valid``) and ``test`` files in ``.csv``, ``.tsv`` or ``.jsonl``; or ``task.train_file`` /
``dev_file`` / ``test_file``; or ``task.hf_dataset``.  The text is ``task.text_field`` (tokenised by
``elmo_lab.data.tokenize``, or split on whitespace with ``task.tokenized=true``), the label ``task.label_field``
(strings or integers; the label set is train's, numbered numerically when every label is an integer, else in
sorted order).  Without a dev file, ``task.dev_fraction`` of each label's training rows is held out with
``task.split_seed`` (said in ``results.json``, ``data_notes.splits``).

Model: the sentence classifier of ``task=mr`` (``elmo_lab.training.classifier.SentenceClassifier``): word embeddings, the ELMo-placed BiLSTM +
max/mean pooling (``task.encoder=bilstm``) or the BCN (``bcn``), two ReLU layers, every placement and mix.

Metrics: accuracy (objective ``val/acc``), macro F1, and with ``task.per_class_f1`` the F1 of each class
(``f1_<label>``).  Test predictions: ``predictions.jsonl``, one ``{"index", "tokens", "gold", "pred"}`` per test
example in dataset order (label names), and per-example correctness in ``test_examples.json``.
"""
from __future__ import annotations

from elmo_lab.config.tabular_checks import check_tabular
from elmo_lab.data.example import Example
from elmo_lab.data.tabular import load_labelled_splits
from elmo_lab.training.api import ElmoDataModule, Task
from elmo_lab.training.classifier import SentenceClassifier


class ClassifyDataModule(ElmoDataModule):
    """The user's files as ``Example(tokens, label)`` lists; ``label`` is the class id of ``label_names``."""

    def load_splits(self) -> dict[str, list]:
        data = load_labelled_splits(self.task, [(self.task.text_field, "task.text_field")])
        self.label_names, self.notes = data.labels.names, data.notes
        return {split: [Example(row.texts[0], data.labels.id(row)) for row in rows]
                for split, rows in data.splits.items()}

    def model_info(self) -> dict:
        return {"vocab_size": len(self.vocab), "num_classes": len(self.label_names),
                "label_names": list(self.label_names)}

    def data_notes(self) -> dict:
        return dict(getattr(self, "notes", {}))


TASK = Task(datamodule=ClassifyDataModule, module=SentenceClassifier, check=check_tabular)
