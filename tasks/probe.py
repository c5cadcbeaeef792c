"""Probing the biLM's representations (``task=probe``): how much of a token-level label (POS tags, chunk tags) a
*linear* classifier (or a small MLP) can read off one biLM layer, with the biLM frozen.

The probe sees nothing but ELMo: it gets its one placed encoder from ``self.elmo.placed_encoder`` with no word
vectors (``word_dim = 0``) and an identity encoder, so with ``elmo.placement=input`` the encoder's output is the
(scalar-mixed) biLM vector itself, followed by one ``nn.Linear`` (``task.probe=linear``, the default) or by
``task.mlp_layers`` ReLU layers of ``task.mlp_hidden`` units and a linear layer (``task.probe=mlp``).  Its only
parameters are the mix's (``γ``, and ``w`` for ``elmo.mix=all``) and the classifier's.  ``elmo.mix=layer elmo.layer=j`` probes layer ``j`` (0 = the
context-free token layer); ``elmo.mix=all`` probes the learned mix.  ``experiment=probe_layers`` sweeps them all.

Word vectors as a representation (Liu et al. 2019's GloVe baseline beside the biLM layers): ``probe=glove``
(``elmo.placement=none task.word_vectors=glove_6b_50d task.freeze_word_vectors=true``) gives the same classifier
each token's fixed pretrained vector instead (``elmo_lab.modules.word_embedding``; words without one get a fixed
random vector); ``python train.py -m experiment=probe_layers probe=layer0,layer1,layer2,mix,glove``.

Data (``task.dataset``).  ``conll2003`` (the default): column ``task.column`` of a CoNLL-style file.  Without
``task.data_dir``: CoNLL-2003 English (the files of the NER task, ``elmo_lab.data.conll.load_conll2003``), column 2 =
Penn Treebank POS tags (45 in train), 3 = chunk tags, 4 = NER tags (IOB2).  With ``task.data_dir``: the same file
layouts (``train.txt``/``valid.txt``/``test.txt``, ``eng.train``/``eng.testa``/``eng.testb``, or the wheel), read by a
generic column reader: one token per line, columns separated by spaces or tabs, column 1 the token, a blank line
between sentences, ``-DOCSTART-`` lines skipped.  ``ud_ewt``: UD English-EWT v1.2 (``elmo_lab.data.ud_ewt``; fetched
once), or with ``task.data_dir`` a folder of CoNLL-U files; ``conllu``: such a folder, required (any UD treebank).
Their label is ``task.label``: ``upos`` (17 universal tags), ``xpos`` (PTB tags in EWT) or ``deprel`` (each word's
relation to its head; ``task=probe_deprel``).  Labels are the training split's; a dev/test label never seen in train gets an extra id that the probe
never predicts, so it always counts as wrong.

Metric: token accuracy (torchmetrics, padding ignored); objective ``val/acc``.  The test predictions go to
``predictions.jsonl``: one ``{"index", "tokens", "gold", "pred"}`` record per test sentence, in dataset order, and
per sentence (correct tokens, tokens) to ``test_examples.json`` (the report's paired test over sentences).

Controls.  The most-frequent-tag baseline (each training word's most frequent label; unseen words get the overall
most frequent label), on dev and test, on the labels the run uses, written into ``results.json`` under
``data_notes`` and printed.  A randomly initialised biLM of the same shape: ``bilm.random_weights=true``.  The
control task (Hewitt & Liang 2019, ``task.control_task=true``): every word type's tokens, in every split, get one
label drawn from the training split's label distribution by a hash of ``(task.control_seed, word)``
(``ControlTask``), so the label is a property of the word alone; a probe's accuracy on it measures what it can
memorise, and accuracy minus control accuracy is its selectivity.

MDL (``task.mdl=true``; Voita & Titov 2020, ``elmo_lab.probing.mdl``): before the fit, the online code length of the
training labels: the training sentences in an order fixed by the seed, cut into blocks at 0.1 % ... 100 % of the
tokens; the first block at the uniform code, each later block at the summed cross-entropy (bits) of a fresh probe
(the same classifier and mix, from the run's initial weights) trained with Adam (``task.lr``, the λ penalty, batches
of ``task.batch_size``) on the blocks before it for ``trainer.max_epochs`` epochs.  Written to ``results.json`` under
``mdl`` (code lengths in kbits, compression = uniform / online, each block's tokens and bits) and printed; the main
fit starts from the same weights as without it.
"""
from __future__ import annotations

import json
import random
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from elmo_lab.config.schema import ConfigError
from elmo_lab.data.conll import find_conll2003, load_conll2003
from elmo_lab.data.splits import SPLITS
from elmo_lab.data.ud_ewt import load_ud_ewt
from elmo_lab.metrics.examples import ExampleScores
from elmo_lab.modules.word_embedding import word_embedding
from elmo_lab.probing.columns import LabelledSentence, read_columns
from elmo_lab.probing.controls import ControlTask, most_frequent_tag_accuracy, most_frequent_tags
from elmo_lab.probing.mdl import block_ends, online_code, shuffled_order, train_and_score
from elmo_lab.probing.model import IdentityEncoder, probe_classifier, require_positive, settings_view

from elmo_lab.training.api import JSONL_PREDICTIONS, ElmoDataModule, ElmoTaskModule, StepOutput, Task

IGNORE = -1  # label id of padding positions (left out of the loss and the accuracy)
CONLL2003_COLUMNS = {2: "POS", 3: "chunk", 4: "NER"}


# --------------------------------------------------------------------------------------------------------- data


def load_probe_splits(data_dir: str | None, column: int, download: bool = True, dataset: str = "conll2003",
                      label: str = "upos") -> dict[str, list[LabelledSentence]]:
    """``{"train", "dev", "test"}`` labelled with ``column`` (``dataset=conll2003``) or with the treebank's ``label``
    (``ud_ewt``, ``conllu``); rules in the module docstring."""
    if str(dataset) != "conll2003":
        if str(dataset) == "conllu" and data_dir is None:
            raise ConfigError("task.data_dir: task.dataset=conllu reads a folder of CoNLL-U files "
                              "(*-ud-train.conllu, *-ud-dev.conllu, *-ud-test.conllu); give its path")
        treebank = load_ud_ewt(data_dir, download=download)
        return {split: [LabelledSentence(s.tokens, s.column(str(label))) for s in sentences]
                for split, sentences in treebank.items()}
    if column < 2:
        raise ConfigError(f"task.column: must be >= 2 (column 1 holds the tokens), got {column}")
    if data_dir is None:
        if column not in CONLL2003_COLUMNS:
            raise ConfigError(f"task.column: CoNLL-2003 has columns 2 (POS), 3 (chunk) and 4 (NER), got {column}")
        data = load_conll2003(None, scheme="bio", download=download)
        return {split: [LabelledSentence(s.tokens, s.column(column)) for s in sentences]
                for split, sentences in data.items()}
    sources = find_conll2003(data_dir, download=False)
    return {split: read_columns(path, column, member) for split, (path, member) in sources.items()}


def check_probe_config(config: dict) -> None:
    """A probe reads the biLM through ``elmo.placement=input`` and never changes it, or fixed word vectors
    (``task.word_vectors``, ``task.freeze_word_vectors=true``) with ``elmo.placement=none`` (or both at once, with
    ``input``); an MLP probe has at least one hidden layer of at least one unit (``Task.check``: runs before the
    data is read)."""
    placement = str(config["elmo"]["placement"])
    task = config.get("task") or {}
    vectors = task.get("word_vectors")
    if placement not in ("input", "none") or (placement == "none" and not vectors):
        raise ConfigError(f"elmo.placement: the probe reads the biLM vector (elmo.placement=input) or word vectors "
                          f"alone (elmo.placement=none with task.word_vectors), got {placement}; e.g. python "
                          f"train.py experiment=probe_layers")
    if vectors and not task.get("freeze_word_vectors", False):
        raise ConfigError("task.freeze_word_vectors: the probe reads a fixed representation; use "
                          "task.freeze_word_vectors=true with task.word_vectors (probe=glove sets both)")
    if not config["bilm"].get("freeze", True):
        raise ConfigError("bilm.freeze: the probe reads a fixed biLM; use bilm.freeze=true")
    require_positive(task, ("mlp_hidden", "mlp_layers"))
    epochs = (config.get("trainer") or {}).get("max_epochs", 1)
    if task.get("mdl", False) and (epochs is None or epochs < 1):
        raise ConfigError(f"task.mdl: each block's probe trains for trainer.max_epochs epochs; set it >= 1 "
                          f"(got {epochs})")


class ProbeDataModule(ElmoDataModule):
    """Labelled sentences; batches add ``labels`` (batch, time): label ids, ``IGNORE`` at padding, and
    ``len(label_names)`` for labels never seen in train; and ``gold``, the label strings.  With
    ``task.control_task`` every split is relabelled by ``ControlTask`` before anything else reads the labels."""

    def __init__(self, task: Any, seed: int = 0, **data_side: Any) -> None:
        super().__init__(task, seed, **data_side)
        self.label_names: list[str] = []
        self.label_ids: dict[str, int] = {}
        self.baseline: dict[str, float] = {}
        self.unseen: dict[str, int] = {}
        self.control: ControlTask | None = None

    def load_splits(self) -> dict[str, list]:
        t = self.task
        return load_probe_splits(t.data_dir, t.column, download=t.get("download", True),
                                 dataset=t.get("dataset", "conll2003"), label=t.get("label", "upos"))

    def label_source(self) -> str:
        """What the labels are, for messages: ``column 2`` of a CoNLL file, or ``ud_ewt upos``."""
        dataset = str(self.task.get("dataset", "conll2003"))
        return f"column {self.task.column}" if dataset == "conll2003" else f"{dataset} {self.task.get('label')}"

    def on_splits_loaded(self) -> None:
        self.label_names = sorted({label for s in self.splits["train"] for label in s.labels})
        if self.task.get("control_task", False):
            self.control = ControlTask(self.splits["train"], int(self.task.get("control_seed", 0)))
            self.splits = {name: [self.control.relabel(s) for s in sentences]
                           for name, sentences in self.splits.items()}
        self.label_ids = {label: i for i, label in enumerate(self.label_names)}
        self.unseen = {split: sum(label not in self.label_ids for s in self.splits[split] for label in s.labels)
                       for split in ("dev", "test")}
        table, fallback = most_frequent_tags(self.splits["train"])
        self.baseline = {f"{split}/acc": most_frequent_tag_accuracy(table, fallback, self.splits[split])
                         for split in SPLITS}
        print(f"most-frequent-tag baseline ({self.label_source()}, {len(self.label_names)} labels): "
              f"dev acc {self.baseline['dev/acc']:.4f}, test acc {self.baseline['test/acc']:.4f}")

    def collate(self, examples: list[LabelledSentence]) -> dict[str, Any]:
        batch = self.encode_tokens([e.tokens for e in examples])
        unknown, width = len(self.label_names), batch["word_ids"].size(1)
        rows = [[self.label_ids.get(x, unknown) for x in e.labels] for e in examples]
        batch["labels"] = torch.tensor([r + [IGNORE] * (width - len(r)) for r in rows],
                                       dtype=torch.long).view(len(rows), width)  # (batch, time)
        batch["gold"] = [list(e.labels) for e in examples]
        return batch

    def model_info(self) -> dict:
        return {"label_names": self.label_names, "vocab_size": len(self.vocab)}

    def data_notes(self) -> dict:
        dataset = str(self.task.get("dataset", "conll2003"))
        notes = {"dataset": dataset, "column": self.task.column if dataset == "conll2003" else None,
                 "label": None if dataset == "conll2003" else str(self.task.get("label")),
                 "labels": len(self.label_names),
                 "tokens_with_labels_unseen_in_train": self.unseen, "most_frequent_tag_baseline": self.baseline,
                 "control_task": self.control is not None}
        if self.control is not None:
            notes["control_seed"] = self.control.seed
        return notes


# -------------------------------------------------------------------------------------------------------- model


class LinearProbe(ElmoTaskModule):
    """ELMo (one layer or a mix, scaled by γ) → one linear layer (or an MLP, ``task.probe=mlp``) → label scores
    per token."""

    prediction_files = (JSONL_PREDICTIONS,)

    def build(self, data_info: dict) -> None:
        t = self.task_cfg
        check_probe_config(settings_view(self))
        self.label_names = list(data_info["label_names"])
        self.embed = word_embedding(t, data_info) if data_info.get("word_vectors") is not None else None
        self.encoder = self.placed_encoder(0 if self.embed is None else self.embed.embedding_dim, IdentityEncoder)
        self.classifier = probe_classifier(self.encoder.output_dim, len(self.label_names), t.get("probe", "linear"),
                                           t.get("mlp_hidden", 100), t.get("mlp_layers", 1))
        self.initial_weights = self.trainable_state()  # the fresh probe of each MDL block
        self.mdl: dict | None = None

    def forward(self, batch: dict) -> torch.Tensor:
        """Label scores (batch, time, num_labels)."""
        mask = batch["mask"]  # (batch, time)
        layers = self.elmo.layers_of(batch)  # (batch, L+1, time, dim), or None without a biLM placement
        if self.embed is not None:
            words = self.embed(batch["word_ids"])  # (batch, time, word_dim): fixed word vectors
        else:
            words = layers.new_zeros(mask.size(0), mask.size(1), 0)  # (batch, time, 0): no word vectors
        return self.classifier(self.encoder(words, mask, layers))  # (batch, time, num_labels)

    def step(self, batch: dict) -> StepOutput:
        scores = self(batch)  # (batch, time, num_labels)
        labels = batch["labels"]  # (batch, time)
        known = labels.masked_fill(labels >= scores.size(-1), IGNORE)  # unseen labels: no loss, still wrong below
        losses = F.cross_entropy(scores.flatten(0, 1), known.flatten(), ignore_index=IGNORE, reduction="none")
        loss = losses.sum() / known.ne(IGNORE).sum().clamp(min=1)
        mask = batch["mask"]
        return StepOutput(loss, scores.argmax(-1)[mask], labels[mask])  # (tokens,) each

    def summed_nats(self, batch: dict) -> torch.Tensor:
        """Cross-entropy of the batch's labels in nats, summed over its tokens (MDL's code length)."""
        scores = self(batch)  # (batch, time, num_labels)
        labels = batch["labels"]  # (batch, time)
        known = labels.masked_fill(labels >= scores.size(-1), IGNORE)
        return F.cross_entropy(scores.flatten(0, 1), known.flatten(), ignore_index=IGNORE, reduction="sum")

    def trainable_state(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().clone() for n, p in self.named_parameters() if p.requires_grad}

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name in state:
                    p.copy_(state[name])

    def on_fit_start(self) -> None:
        """``task.mdl``: the online code length, before the fit (weights and train mode restored afterwards)."""
        if not self.task_cfg.get("mdl", False):
            return
        current, was_training = self.trainable_state(), self.training
        self.mdl = probe_online_code(self, self.trainer.datamodule, int(self.trainer.max_epochs))
        self.load_trainable_state(current)
        self.train(was_training)
        m = self.mdl
        print(f"MDL (online code, {len(m['blocks'])} blocks, {m['labels']} labels): "
              f"{m['online_codelength_kbits']:.3f} kbits, uniform {m['uniform_codelength_kbits']:.3f} kbits, "
              f"compression {m['compression']:.3f}")

    def results_sections(self) -> dict[str, Any]:
        return {} if self.mdl is None else {"mdl": self.mdl}

    def make_metrics(self) -> MetricCollection:
        # one class more than the probe predicts: the id of labels never seen in train
        return MetricCollection({"acc": MulticlassAccuracy(len(self.label_names) + 1, average="micro",
                                                           ignore_index=IGNORE)})

    def prediction_records(self, batch: dict, predictions: torch.Tensor) -> list[dict]:
        """One ``{"index", "tokens", "gold", "pred"}`` per sentence; ``predictions`` (tokens,) are the batch's
        unpadded tokens row after row, as ``step`` returns them."""
        lengths = batch["mask"].sum(-1).tolist()  # (batch,)
        rows = torch.split(predictions.cpu(), lengths)
        return [{"index": int(i), "tokens": list(tokens), "gold": gold, "pred": [self.label_names[j] for j in row]}
                for i, tokens, gold, row in zip(batch["index"].tolist(), batch["tokens"], batch["gold"],
                                                (r.tolist() for r in rows))]

    def example_scores(self, records: list[dict]) -> tuple[list[str], dict[str, ExampleScores]]:
        """Token accuracy as a ratio per sentence: (correct tokens, tokens)."""
        keys = [json.dumps([r["tokens"], r["gold"]], ensure_ascii=False) for r in records]
        rows = [[sum(p == g for p, g in zip(r["pred"], r["gold"])), len(r["gold"])] for r in records]
        return keys, {"acc": ExampleScores("ratio", rows)}


def probe_online_code(probe: LinearProbe, data: ProbeDataModule, epochs: int) -> dict:
    """The online code of ``data``'s training labels under ``probe``'s recipe (module docstring): each block is
    collated once into batches of ``task.batch_size``; a block's probe sees the batches of the blocks before it in
    an order shuffled per (seed, block, epoch)."""
    train = data.splits["train"]
    sentences = [train[i] for i in shuffled_order(len(train), probe.seed)]
    ends = block_ends([len(s.labels) for s in sentences])
    spans = list(zip([0, *ends[:-1]], ends))  # (first sentence, end) of each block
    size = int(data.task.batch_size)
    blocks = [[probe.transfer_batch_to_device(data.collate(sentences[i:min(i + size, end)]), probe.device, 0)
               for i in range(start, end, size)] for start, end in spans]

    def before(k: int) -> Callable[[int], Iterator[dict]]:
        def batches(epoch: int) -> Iterator[dict]:
            seen = [b for block in blocks[:k] for b in block]
            random.Random(hash((probe.seed, k, epoch))).shuffle(seen)
            return iter(seen)
        return batches

    def loss(batch: dict) -> torch.Tensor:
        return probe.step(batch)[0] + probe.regularization_loss()

    bits = [train_and_score(probe, lambda: probe.load_trainable_state(probe.initial_weights), before(k), loss,
                            probe.summed_nats, blocks[k], epochs, float(data.task.lr))
            for k in range(1, len(blocks))]
    block_tokens = [sum(len(s.labels) for s in sentences[start:end]) for start, end in spans]
    return online_code(block_tokens, bits, len(data.label_names)) | {"unit": "tokens, cut at sentence boundaries"}


def paper_row(config: dict) -> dict | None:
    """POS tags of CoNLL-2003 (column 2) are the paper's Table 6 (a linear probe per biLM layer); other columns and
    datasets are not there."""
    if str(config["task"].get("dataset", "conll2003")) != "conll2003" or config["task"].get("column", 2) != 2:
        return None
    layer = config["elmo"].get("layer")
    return {"row": "biLM", "metric": "acc", "column": None if layer is None else f"layer {layer}"}


TASK = Task(datamodule=ProbeDataModule, module=LinearProbe, check=check_probe_config, paper_row=paper_row)
