"""Read and write the official biLM weight layout (bilm-tf ``weights.hdf5``, as every published ELMo model ships).

Datasets (shapes for the options' sizes):
  ``char_embed`` (n_characters - 1, char_dim): no row for the padding id 0, which we keep as a zero row.
  ``CNN/W_cnn_{i}`` (1, width, char_dim, n_filters), ``CNN/b_cnn_{i}`` (n_filters,).
  ``CNN_high_{k}/{W_carry, b_carry, W_transform, b_transform}`` with weights as (in, out).
  ``CNN_proj/{W_proj, b_proj}``, absent when the filters number ``projection_dim`` (no projection).
  ``RNN_{d}/RNN/MultiRNNCell/Cell{k}/LSTMCell/{W_0, B, W_P_0}``: d = 0 forward, 1 backward; ``W_0`` is
  (input_dim + projection_dim, 4 * dim) with gates i, j, f, o (the same order ``ProjectedLSTMLayer`` uses);
  ``W_P_0`` is absent when ``projection_dim == dim`` (a plain LSTM).

A transformer biLM (``elmo_lab.bilm.transformer``) has the same char-CNN datasets and, in place of ``RNN_{d}``,
``TRANSFORMER_{d}/<parameter path>`` (d = 0 forward, 1 backward; e.g. ``TRANSFORMER_0/blocks/0/qkv/weight``) in
PyTorch's layout (a linear layer's weight is (out, in)).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import h5py
import numpy as np
import torch

from elmo_lab.util.errors import UserError

from elmo_lab.util.atomic import atomic_path
from elmo_lab.bilm.architectures import AnyBiLM, build_bilm, load_options
from elmo_lab.bilm.model import BiLM
from elmo_lab.bilm.options import BiLMConfigError
from elmo_lab.bilm.transformer import TransformerBiLM


class WeightFileError(ValueError, UserError):
    """A weight file that does not match its options (missing dataset, wrong shape) or cannot be read."""


# A mapping entry: dataset name → (parameter, to_file, from_file) where to_file/from_file convert layouts.
_Entry = tuple[str, torch.Tensor, Callable[[torch.Tensor], np.ndarray], Callable[[np.ndarray], np.ndarray]]


def _t(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.T)


def _entries(bilm: AnyBiLM) -> Iterator[_Entry]:
    enc = bilm.token_encoder
    yield ("char_embed", enc.char_embedding.weight,
           lambda p: p[1:].numpy(), lambda a: np.concatenate([np.zeros((1, a.shape[1]), a.dtype), a]))
    for i, conv in enumerate(enc.convolutions):
        # torch conv weight (n_filters, char_dim, width) ↔ file (1, width, char_dim, n_filters)
        yield (f"CNN/W_cnn_{i}", conv.weight,
               lambda p: np.ascontiguousarray(p.numpy().transpose(2, 1, 0)[None]),
               lambda a: np.ascontiguousarray(a[0].transpose(2, 1, 0)))
        yield f"CNN/b_cnn_{i}", conv.bias, lambda p: p.numpy(), lambda a: a
    for k, (transform, carry) in enumerate(zip(enc.highway.transform, enc.highway.carry)):
        for name, linear in (("transform", transform), ("carry", carry)):
            yield f"CNN_high_{k}/W_{name}", linear.weight, lambda p: _t(p.numpy()), _t
            yield f"CNN_high_{k}/b_{name}", linear.bias, lambda p: p.numpy(), lambda a: a
    if bilm.options.has_cnn_projection:
        yield "CNN_proj/W_proj", enc.projection.weight, lambda p: _t(p.numpy()), _t
        yield "CNN_proj/b_proj", enc.projection.bias, lambda p: p.numpy(), lambda a: a
    if isinstance(bilm, TransformerBiLM):
        for d, attention in enumerate((bilm.forward_stack, bilm.backward_stack)):
            for name, param in attention.named_parameters():
                yield f"TRANSFORMER_{d}/{name.replace('.', '/')}", param, lambda p: p.numpy(), lambda a: a
        return
    assert isinstance(bilm, BiLM)
    for d, stack in enumerate((bilm.forward_lstm, bilm.backward_lstm)):
        for k, layer in enumerate(stack.layers):
            prefix = f"RNN_{d}/RNN/MultiRNNCell/Cell{k}/LSTMCell"
            yield (f"{prefix}/W_0", _Joined(layer.input_gates.weight, layer.hidden_gates.weight),
                   lambda p: _t(p.numpy()), _t)
            yield f"{prefix}/B", layer.input_gates.bias, lambda p: p.numpy(), lambda a: a
            if layer.projection is not None:
                yield f"{prefix}/W_P_0", layer.projection.weight, lambda p: _t(p.numpy()), _t


class _Joined:
    """``W_0`` holds the input and the recurrent gate weights in one matrix; these are two parameters here."""

    def __init__(self, input_weight: torch.Tensor, hidden_weight: torch.Tensor) -> None:
        self.parts = (input_weight, hidden_weight)
        self.shape = torch.Size([input_weight.shape[0], input_weight.shape[1] + hidden_weight.shape[1]])

    def detach(self) -> torch.Tensor:
        return torch.cat([p.detach() for p in self.parts], dim=1)

    def copy_(self, value: torch.Tensor) -> None:
        n_in = self.parts[0].shape[1]
        self.parts[0].copy_(value[:, :n_in])
        self.parts[1].copy_(value[:, n_in:])


def load_weights(bilm: AnyBiLM, weights_file: str | Path) -> None:
    """Copy the datasets of ``weights_file`` into ``bilm``; any missing dataset or wrong shape is an error."""
    weights_file = Path(weights_file)
    if not weights_file.is_file():
        raise WeightFileError(f"{weights_file}: weight file not found")
    try:
        fin = h5py.File(weights_file, "r")
    except OSError as e:
        raise WeightFileError(f"{weights_file}: not a readable HDF5 file ({e})") from None
    with fin, torch.no_grad():
        for name, param, _, from_file in _entries(bilm):
            if name not in fin:
                raise WeightFileError(f"{weights_file}: dataset {name!r} is missing (the options ask for it)")
            array = from_file(fin[name][...].astype(np.float32))
            if tuple(array.shape) != tuple(param.shape):
                file_shape = tuple(fin[name].shape)
                expected = tuple(to_file_shape(param, name))
                raise WeightFileError(f"{weights_file}: dataset {name!r} has shape {file_shape}, "
                                      f"the options need {expected}")
            param.copy_(torch.from_numpy(array))


def to_file_shape(param: torch.Tensor | _Joined, name: str) -> tuple[int, ...]:
    """The shape ``name`` should have in the file for a parameter of ``param``'s shape."""
    shape = tuple(param.shape)
    if name == "char_embed":
        return (shape[0] - 1, shape[1])
    if name.startswith("CNN/W_cnn_"):
        return (1, shape[2], shape[1], shape[0])
    return shape[::-1]


def save_weights(bilm: AnyBiLM, weights_file: str | Path) -> None:
    """Write ``bilm`` in the official layout, atomically (a temporary file renamed into place)."""
    with atomic_path(weights_file) as tmp, h5py.File(tmp, "w") as fout:
        for name, param, to_file, _ in _entries(bilm):
            fout.create_dataset(name, data=to_file(param.detach().float().cpu()).astype(np.float32))


def load_bilm(options_file: str | Path, weights_file: str | Path | None) -> AnyBiLM:
    """Build a biLM (of the kind ``options.json`` names) and fill it from ``weights.hdf5`` (``None``: random init,
    for training)."""
    bilm = build_bilm(load_options(options_file))
    if weights_file is not None:
        load_weights(bilm, weights_file)
    return bilm.eval()


def save_bilm(bilm: AnyBiLM, options_file: str | Path, weights_file: str | Path) -> None:
    """Write ``options.json`` and ``weights.hdf5`` in the official layout."""
    Path(options_file).parent.mkdir(parents=True, exist_ok=True)
    bilm.options.save(options_file)
    save_weights(bilm, weights_file)


__all__ = ["WeightFileError", "BiLMConfigError", "load_bilm", "save_bilm", "load_weights", "save_weights"]
