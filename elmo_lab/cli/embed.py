"""Dump biLM layers for every line of a text file to HDF5 (``python -m elmo_lab embed``).

The file layout follows AllenNLP's ``elmo`` command (itself bilm-tf's ``dump_bilm_embeddings`` plus an index), so
existing readers work unchanged:

* one float32 dataset per input line, named by its **0-based line index** (``"0"``, ``"1"``, ...):
  ``all`` → ``(L + 1, n_tokens, 2 * projection_dim)`` (layer 0 = token encoding ``[x; x]``, then each biLSTM layer
  ``[forward; backward]``); ``top`` → ``(n_tokens, 2P)``, the top layer; ``average`` → ``(n_tokens, 2P)``, the mean of
  the ``L + 1`` layers.  Sentence boundary tokens are not included.
* ``sentence_to_index``: a ``(1,)`` string dataset holding JSON ``{sentence text: "line index"}`` (a repeated sentence
  maps to its last line).
* file attributes ``layers``, ``stateful``, ``batch_size``, ``bilm_options`` (JSON) and ``input_sha256`` record how it
  was made.

Input: UTF-8, one whitespace-tokenised sentence per line.  A blank (or whitespace-only) line is an **error** naming
``INPUT:LINE`` (1-based), checked before any work starts: silently skipping it would shift every later index.

Stateless (default): each sentence starts from zero LSTM state, so results do not depend on batching or order.
``stateful``: row ``r`` of a batch continues from the state row ``r`` ended with in the batch before, as bilm-tf and
AllenNLP's embedder do.

``--hf SPEC`` dumps a Hugging Face encoder's layers instead (``bilm.kind=hf``: word pieces pooled to words by
``--pooling``, the ``bilm_options`` attribute then holds the encoder's description).

Work goes to ``OUTPUT.partial`` and is renamed to ``OUTPUT`` at the end, so an interrupted run leaves nothing under
``OUTPUT``.  A stateless run resumes from the batches already in ``OUTPUT.partial`` when the input, model and settings
are unchanged (a stateful run always restarts: the carried state is not saved).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Callable, Iterator

import h5py
import numpy as np
import torch
from tqdm import tqdm

from elmo_lab.util.errors import UserError

from elmo_lab.bilm.chars import EmptyInputError
from elmo_lab.bilm.model import CharBiLMBase
from elmo_lab.bilm.options import BiLMConfigError

LAYER_MODES = ("all", "top", "average")


class EmbedError(ValueError, UserError):
    """Bad input or output for the embed command (names ``file:line`` where there is one)."""


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(1-based line number, text)``; undecodable bytes are an error naming the line."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise EmbedError(f"{path}: input file not found") from None
    except OSError as e:
        raise EmbedError(f"{path}: cannot read ({e.strerror})") from None
    with f:
        for number, raw in enumerate(f, start=1):
            try:
                yield number, raw.decode("utf-8-sig" if number == 1 else "utf-8")  # drop a leading BOM
            except UnicodeDecodeError as e:
                raise EmbedError(f"{path}:{number}: not valid UTF-8 (byte {e.start + 1} of the line)") from None


def scan_input(path: str | Path) -> tuple[int, str]:
    """Check every line of ``path``; return ``(number of sentences, sha256 of the file)``.

    Raises ``EmbedError`` naming the first blank line (``path:line``) and ``EmptyInputError`` for an empty file.
    """
    path = Path(path)
    digest = hashlib.sha256()
    count, blank = 0, []
    for number, text in _lines(path):
        digest.update(text.encode("utf-8"))
        count += 1
        if not text.split():
            blank.append(number)
    if blank:
        more = f" (and {len(blank) - 1} more blank lines)" if len(blank) > 1 else ""
        raise EmbedError(f"{path}:{blank[0]}: blank line{more}; expected one whitespace-tokenised sentence per "
                         "line (dataset names are line indices, so blank lines cannot be skipped)")
    if count == 0:
        raise EmptyInputError(f"{path}: no sentences (the file is empty)")
    return count, digest.hexdigest()


def _batches(path: Path, batch_size: int) -> Iterator[list[tuple[str, list[str]]]]:
    """Yield batches of ``(sentence text, tokens)`` in file order."""
    batch: list[tuple[str, list[str]]] = []
    for _, text in _lines(path):
        batch.append((text.strip(), text.split()))
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def select_layers(layers: torch.Tensor, mode: str) -> np.ndarray:
    """``layers`` ``(L + 1, n_tokens, 2P)`` of one sentence → what ``mode`` stores (see the module docstring)."""
    if mode == "all":
        out = layers  # (L + 1, n, 2P)
    elif mode == "top":
        out = layers[-1]  # (n, 2P)
    elif mode == "average":
        out = layers.mean(0)  # (n, 2P)
    else:
        raise EmbedError(f"layers must be one of {', '.join(LAYER_MODES)}, got {mode!r}")
    return out.detach().cpu().numpy().astype(np.float32)


def model_fingerprint(bilm: CharBiLMBase) -> str:
    """SHA-256 over the biLM's parameters: a resumed run must use exactly the same weights."""
    digest = hashlib.sha256()
    for name, tensor in bilm.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _open_partial(partial: Path, settings: dict[str, object], resumable: bool) -> tuple[h5py.File, int]:
    """Reopen a matching ``OUTPUT.partial`` (returning how many sentences it holds) or start a new one."""
    if resumable and partial.is_file():
        try:
            f = h5py.File(partial, "a")
        except OSError:
            f = None  # damaged by the interruption: start again
        if f is not None:
            if all(f.attrs.get(k) == v for k, v in settings.items()) and "n_done" in f.attrs:
                return f, int(f.attrs["n_done"])
            f.close()
    try:
        partial.unlink(missing_ok=True)
        f = h5py.File(partial, "w")
    except OSError as e:
        raise EmbedError(f"{partial}: cannot write the output ({e})") from None
    f.attrs.update(settings)
    f.attrs["n_done"] = 0
    return f, 0


def _model_description(model: torch.nn.Module) -> str:
    """JSON of how the model is built: the biLM's options, or a contextual encoder's ``describe()``."""
    options = getattr(model, "options", None)
    described = options.to_dict() if isinstance(model, CharBiLMBase) else model.describe()
    return json.dumps(described, sort_keys=True, default=str)


def _layers_of(model: torch.nn.Module, sentences: list[list[str]], stateful: bool) -> torch.Tensor:
    """``(batch, L + 1, time, dim)`` of the biLM or of a contextual encoder (no gradients)."""
    with torch.no_grad():
        if isinstance(model, CharBiLMBase):
            return model.embed_sentences(sentences, stateful=stateful).layers
        return model.encode(sentences)


def embed_file(bilm: torch.nn.Module, input_path: str | Path, output_path: str | Path, batch_size: int = 64,
               stateful: bool = False, layers: str = "all", progress: bool = True) -> int:
    """Write the biLM layers of every line of ``input_path`` to ``output_path``; return the number of sentences.

    See the module docstring for the layout, blank-line rule, stateful mode and resuming.
    """
    input_path, output_path = Path(input_path), Path(output_path)
    if layers not in LAYER_MODES:
        raise EmbedError(f"layers must be one of {', '.join(LAYER_MODES)}, got {layers!r}")
    if batch_size < 1:
        raise EmbedError(f"batch size must be >= 1, got {batch_size}")
    n_sentences, input_sha = scan_input(input_path)
    bilm.eval()
    settings = {"layers": layers, "stateful": stateful, "batch_size": batch_size, "input_sha256": input_sha,
                "bilm_options": _model_description(bilm),
                "bilm_sha256": model_fingerprint(bilm)}
    try:
        output_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise EmbedError(f"{output_path.parent}: cannot create the output folder ({e.strerror})") from None
    partial = output_path.with_name(output_path.name + ".partial")
    fout, n_done = _open_partial(partial, settings, resumable=not stateful)
    sentence_to_index: dict[str, str] = {}
    bilm.reset_state()
    with fout, tqdm(total=n_sentences, initial=n_done, unit="sent", desc="embed", disable=not progress,
                    file=sys.stderr) as bar:
        index = 0
        for batch in _batches(input_path, batch_size):
            for text, _ in batch:
                sentence_to_index[text] = str(index)
                index += 1
            if index <= n_done:
                continue  # already written by the interrupted run
            out = _layers_of(bilm, [tokens for _, tokens in batch], stateful)  # (batch, L + 1, time, dim)
            first = index - len(batch)
            for row, (_, tokens) in enumerate(batch):
                key = str(first + row)
                if key in fout:  # half-written before an interruption
                    del fout[key]
                data = select_layers(out[row, :, : len(tokens)], layers)  # (L + 1, n, 2P) or (n, 2P)
                fout.create_dataset(key, data=data, dtype="float32")
            fout.attrs["n_done"] = index
            fout.flush()
            bar.update(len(batch))
        if "sentence_to_index" in fout:
            del fout["sentence_to_index"]
        index_ds = fout.create_dataset("sentence_to_index", (1,), dtype=h5py.string_dtype())
        index_ds[0] = json.dumps(sentence_to_index)
        del fout.attrs["n_done"]
    os.replace(partial, output_path)
    return n_sentences


def add_embed_command(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], None]:
    """Declare the ``embed`` arguments on ``parser``; return the function that runs the command."""
    parser.add_argument("input", type=Path, help="UTF-8 text, one whitespace-tokenised sentence per line")
    parser.add_argument("output", type=Path, help="HDF5 file to write (datasets named by 0-based line index)")
    parser.add_argument("--bilm", default=None, metavar="SPEC",
                        help="'default' (the packaged biLM; the default), a published name (elmo_small, "
                             "elmo_medium, elmo_original, elmo_original_5.5B), a directory with options.json and "
                             "weights.hdf5, or OPTIONS.json,WEIGHTS.hdf5")
    parser.add_argument("--hf", default=None, metavar="SPEC",
                        help="a Hugging Face encoder instead of a biLM (bilm.kind=hf): a model directory, minilm, or "
                             "a hub name in the local Hugging Face cache")
    parser.add_argument("--pooling", choices=("mean", "first", "last"), default="mean",
                        help="with --hf: a word's vector from its word pieces (default mean)")
    parser.add_argument("--options", type=Path, default=None, help="options.json (with --weights, instead of --bilm)")
    parser.add_argument("--weights", type=Path, default=None, help="weights.hdf5 (with --options)")
    parser.add_argument("--batch-size", type=int, default=64, help="sentences per batch (default 64)")
    parser.add_argument("--stateful", action="store_true",
                        help="carry each batch row's LSTM state to the next batch (bilm-tf behaviour)")
    parser.add_argument("--layers", choices=LAYER_MODES, default="all",
                        help="all: (L+1, n, 2P) per sentence; top / average: (n, 2P) (default all)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda:0 (default cpu)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return run_embed


def run_embed(args: argparse.Namespace) -> None:
    """The ``embed`` command: resolve the biLM, check the input, write the HDF5 file."""
    from elmo_lab.bilm.pretrained import resolve_bilm
    from elmo_lab.bilm.weights import load_bilm

    if (args.options is None) != (args.weights is None):
        raise BiLMConfigError("--options and --weights must be given together")
    if args.options is not None and args.bilm is not None:
        raise BiLMConfigError("give either --bilm or --options/--weights, not both")
    if args.batch_size < 1:
        raise EmbedError(f"--batch-size must be >= 1, got {args.batch_size}")
    device = _parse_device(args.device)
    scan_input(args.input)  # fail on bad input before any download or model load
    if args.hf is not None:
        model = _hf_encoder(args)
        n = embed_file(model.to(device), args.input, args.output, batch_size=args.batch_size, layers=args.layers,
                       progress=not args.quiet)
        print(f"wrote {n} sentences ({args.layers} layers) to {args.output}", file=sys.stderr)
        return
    if args.options is not None:
        options, weights = args.options, args.weights
    else:
        options, weights = resolve_bilm(args.bilm or "default", progress=not args.quiet)
    bilm = load_bilm(options, weights).to(device)
    if args.stateful and not bilm.carries_state:
        raise EmbedError("--stateful: only the LSTM biLM carries state; a transformer biLM has none")
    n = embed_file(bilm, args.input, args.output, batch_size=args.batch_size, stateful=args.stateful,
                   layers=args.layers, progress=not args.quiet)
    print(f"wrote {n} sentences ({args.layers} layers) to {args.output}", file=sys.stderr)


def _hf_encoder(args: argparse.Namespace) -> torch.nn.Module:
    """The ``--hf`` encoder; it has no LSTM state and replaces ``--bilm`` / ``--options``."""
    from elmo_lab.contextual.hf import HfEncoder

    if args.bilm is not None or args.options is not None:
        raise EmbedError("give either --hf or --bilm/--options, not both")
    if args.stateful:
        raise EmbedError("--stateful: only the LSTM biLM carries state; a Hugging Face encoder (--hf) has none")
    return HfEncoder.from_config({"spec": args.hf, "pooling": args.pooling})


def _parse_device(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except RuntimeError:
        raise EmbedError(f"--device: {name!r} is not a torch device (expected e.g. cpu or cuda:0)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise EmbedError(f"--device {name}: CUDA is not available on this machine")
    return device


__all__ = ["EmbedError", "LAYER_MODES", "add_embed_command", "embed_file", "run_embed", "scan_input",
           "select_layers"]
