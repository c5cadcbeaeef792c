"""Hugging Face datasets as the splits of ``task=classify`` / ``task=pairs`` (``task.hf_dataset=NAME_OR_PATH``).

Needs the optional extra: ``pip install -e ".[hf]"`` (the ``datasets`` library); without it, one error line says so.

- ``task.hf_dataset`` is a folder written by ``save_to_disk`` (read with ``datasets.load_from_disk``, offline) or
  a name or path for ``datasets.load_dataset`` (``task.hf_config``: its configuration, e.g. ``mnli`` of ``glue``;
  a hub name needs the network the first time, then the ``datasets`` cache).
- ``task.hf_splits.{train,dev,test}`` name the dataset's split for each of this project's (MultiNLI in ``glue``:
  ``task.hf_splits.dev=validation_matched task.hf_splits.test=validation_mismatched``); unset, train is
  ``train``, dev the first of ``SPLIT_NAMES["dev"]`` (``elmo_lab.data.splits``: ``validation``, ``dev``, ...)
  that exists (none: held out of train, as for files), test ``test``.
- A ``ClassLabel`` label gives its names (in its order) and -1 means "no label" (SNLI's ``-``, the hidden labels
  of GLUE's test splits): such rows are dropped and counted as without a gold label.

Rows become an ``elmo_lab.data.table.Table`` whose rows say where they are (``NAME[split] row i``, 0-based), so the
checks and errors are those of the file readers.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from elmo_lab.data.errors import DataError
from elmo_lab.data.splits import SPLIT_NAMES
from elmo_lab.data.table import Table

__all__ = ["hf_tables", "table_of"]

INSTALL = 'pip install -e ".[hf]"'


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise DataError(f"task.hf_dataset needs the Hugging Face datasets library: {INSTALL}") from None
    return datasets


def table_of(dataset: Any, where: str) -> Table:
    """One split (a ``datasets.Dataset``) as a ``Table``; ``where`` names it in errors (``snli[train]``)."""
    rows = [(f"{where} row {i}", dict(row)) for i, row in enumerate(dataset)]
    if not rows:
        raise DataError(f"{where}: no rows")
    label_names = unlabelled = None
    for feature in dataset.features.values():
        names = getattr(feature, "names", None)
        if type(feature).__name__ == "ClassLabel" and names:
            label_names, unlabelled = list(names), (-1,)
            break
    return Table(where, rows, columns=list(dataset.column_names), unlabelled=unlabelled or (),
                 label_names=label_names)


def _load(name: str, config: str | None) -> Any:
    datasets = _datasets()
    folder = Path(name).expanduser()
    try:
        if folder.is_dir() and ((folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file()):
            loaded = datasets.load_from_disk(str(folder))
        else:
            loaded = datasets.load_dataset(name, config) if config else datasets.load_dataset(name)
    except (FileNotFoundError, ValueError, ConnectionError, OSError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"task.hf_dataset={name}: could not load it ({first})") from None
    if not isinstance(loaded, Mapping):  # a single Dataset: no splits to choose from
        raise DataError(f"task.hf_dataset={name}: a single split without names; save a DatasetDict with train and "
                        "test splits (and dev, or one is held out of train)")
    return loaded


def hf_tables(name: str, config: str | None = None, splits: Mapping[str, str] | None = None,
              loaded: Any = None) -> dict[str, Table]:
    """``{"train", "test"[, "dev"]}`` → ``Table`` of the dataset ``name`` (or of ``loaded``, a ``DatasetDict``
    already in memory), split names chosen by ``splits`` (``task.hf_splits``) or ``SPLIT_NAMES``."""
    chosen = {split: name for split, name in dict(splits or {}).items() if name}
    unknown = sorted(set(chosen) - set(SPLIT_NAMES))
    if unknown:
        raise DataError(f"task.hf_splits: unknown split {', '.join(unknown)}; expected keys train, dev, test")
    loaded = _load(name, config) if loaded is None else loaded
    available = list(loaded)
    out = {}
    for split, candidates in SPLIT_NAMES.items():
        if split in chosen:
            if chosen[split] not in loaded:
                raise DataError(f"task.hf_splits.{split}: {name} has no split {chosen[split]!r} (its splits: "
                                f"{', '.join(available)})")
            source = chosen[split]
        else:
            source = next((c for c in candidates if c in loaded), None)
        if source is None:
            if split == "dev":
                continue
            raise DataError(f"{name}: no {split} split (its splits: {', '.join(available)}); choose one with "
                            f"task.hf_splits.{split}=NAME")
        out[split] = table_of(loaded[source], f"{name}[{source}]")
    return out
