"""Write a trained LM as the official biLM files plus a softmax side file, and read it back.

Directory layout (what ``export_lm`` writes and ``load_lm`` / ``bilm=<dir>`` read):

* ``options.json`` — the official bilm-tf options (``BiLMOptions.to_dict``).
* ``weights.hdf5`` — the official weight layout (``elmo_lab.bilm.weights``); any published-ELMo loader reads it.
  Stored as float32, or float16 with ``dtype="float16"`` (half the size; loaders cast to float32).
* ``lm_softmax.hdf5`` — the softmax the LM was trained with, which published files lack:
  ``softmax/W`` ``(vocab_size, projection_dim)`` and ``softmax/b`` ``(vocab_size,)``; row ``i`` is line ``i`` of
  ``vocab.txt``.  Attribute ``vocab_size``.  ``logits = h @ W.T + b`` for a top-layer output ``h`` of either
  direction (the softmax is shared).
* ``vocab.txt`` — the softmax vocabulary, one word per line, ``<S>``, ``</S>``, ``<UNK>`` first, then by frequency.
* ``lm_metadata.json`` (optional) — corpus, tokens seen, perplexities, the command that produced the files.

Every file is written to a temporary name and renamed, so an interrupted export leaves no half-written file.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from elmo_lab.util.atomic import atomic_path
from elmo_lab.bilm.model import CharBiLMBase
from elmo_lab.bilm.weights import WeightFileError, load_bilm, save_bilm

from elmo_lab.lm.softmax import FullSoftmax
from elmo_lab.data.vocab import Vocabulary

SOFTMAX_FILE, VOCAB_FILE, METADATA_FILE = "lm_softmax.hdf5", "vocab.txt", "lm_metadata.json"


def _to_float16(path: Path) -> None:
    """Rewrite every float dataset of an HDF5 file as float16 (a new file: h5py cannot shrink one in place)."""
    with atomic_path(path) as tmp, h5py.File(path, "r") as src, h5py.File(tmp, "w") as dst:
        def copy(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset):
                data = obj[...]
                dst.create_dataset(name, data=data.astype(np.float16) if data.dtype.kind == "f" else data)
        src.visititems(copy)


def save_softmax(softmax: FullSoftmax, path: str | Path, dtype: str = "float32") -> None:
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("softmax/W", data=softmax.weight.detach().float().cpu().numpy().astype(dtype))
        f.create_dataset("softmax/b", data=softmax.bias.detach().float().cpu().numpy().astype(dtype))
        f.attrs["vocab_size"] = softmax.vocab_size


def export_lm(out_dir: str | Path, bilm: CharBiLMBase, softmax: FullSoftmax, vocab: Vocabulary, dtype: str = "float32",
              metadata: dict[str, Any] | None = None) -> Path:
    """Write ``out_dir/{options.json, weights.hdf5, lm_softmax.hdf5, vocab.txt[, lm_metadata.json]}``."""
    if dtype not in ("float32", "float16"):
        raise ValueError(f"dtype must be float32 or float16, got {dtype!r}")
    if softmax.vocab_size != len(vocab):
        raise ValueError(f"softmax has {softmax.vocab_size} rows but the vocabulary {len(vocab)} words")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_bilm(bilm, out_dir / "options.json", out_dir / "weights.hdf5")
    if dtype == "float16":
        _to_float16(out_dir / "weights.hdf5")
    save_softmax(softmax, out_dir / SOFTMAX_FILE, dtype)
    vocab.save(out_dir / VOCAB_FILE)
    if metadata is not None:
        with atomic_path(out_dir / METADATA_FILE) as tmp:
            tmp.write_text(json.dumps(metadata, indent=2) + "\n")
    return out_dir


def has_softmax(model_dir: str | Path) -> bool:
    d = Path(model_dir)
    return (d / SOFTMAX_FILE).is_file() and (d / VOCAB_FILE).is_file()


def load_softmax(model_dir: str | Path, projection_dim: int) -> tuple[FullSoftmax, Vocabulary]:
    """The softmax and vocabulary of an exported LM (``WeightFileError`` when missing or mismatched)."""
    d = Path(model_dir)
    if not has_softmax(d):
        raise WeightFileError(f"{d}: no {SOFTMAX_FILE} + {VOCAB_FILE} (published biLMs ship no softmax)")
    vocab = Vocabulary.load(d / VOCAB_FILE)
    with h5py.File(d / SOFTMAX_FILE, "r") as f:
        for name in ("softmax/W", "softmax/b"):
            if name not in f:
                raise WeightFileError(f"{d / SOFTMAX_FILE}: dataset {name!r} is missing")
        weight = f["softmax/W"][...].astype(np.float32)
        bias = f["softmax/b"][...].astype(np.float32)
    if weight.shape != (len(vocab), projection_dim) or bias.shape != (len(vocab),):
        raise WeightFileError(f"{d / SOFTMAX_FILE}: softmax/W has shape {weight.shape} and softmax/b {bias.shape}; "
                              f"expected ({len(vocab)}, {projection_dim}) and ({len(vocab)},) "
                              f"for {len(vocab)} words in {VOCAB_FILE}")
    softmax = FullSoftmax(projection_dim, len(vocab))
    with torch.no_grad():
        softmax.weight.copy_(torch.from_numpy(weight))
        softmax.bias.copy_(torch.from_numpy(bias))
    return softmax, vocab


def load_lm(model_dir: str | Path) -> tuple[CharBiLMBase, FullSoftmax, Vocabulary]:
    """biLM (eval mode) + softmax + vocabulary from an ``export_lm`` directory."""
    d = Path(model_dir)
    bilm = load_bilm(d / "options.json", d / "weights.hdf5")
    softmax, vocab = load_softmax(d, bilm.options.projection_dim)
    return bilm, softmax.eval(), vocab
