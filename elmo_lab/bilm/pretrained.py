"""Pretrained biLMs by name: the published ELMo models, the packaged default, or files on disk.

One resolver, ``resolve_bilm(spec)``, turns what a user writes (``--bilm SPEC`` on the command line, ``bilm:`` in a
config) into an ``(options.json, weights.hdf5)`` pair:

* ``default`` — the small biLM shipped inside the package (``elmo_lab/resources/default_bilm/``), and
  ``default_transformer`` — the transformer biLM of the same size and training budget beside it
  (``elmo_lab/resources/default_transformer/``, ``conf/pretrain_default_transformer.yaml``);
* a published name (``elmo_small``, ``elmo_medium``, ``elmo_original``, ``elmo_original_5.5B``, or their AllenNLP
  directory names such as ``2x1024_128_2048cnn_1xhighway``) — downloaded once into the user cache;
* a directory holding ``options.json`` and ``weights.hdf5`` (or exactly one ``*options.json`` and one
  ``*weights.hdf5``, as the published files are named);
* ``OPTIONS.json,WEIGHTS.hdf5``.

A published name wins over a directory of the same name; write ``./elmo_small`` for the directory.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from elmo_lab.util.download import cache_dir as user_cache_dir
from elmo_lab.util.download import download
from elmo_lab.bilm.model import CharBiLMBase
from elmo_lab.bilm.options import BiLMConfigError, BiLMOptions
from elmo_lab.bilm.weights import load_bilm
from elmo_lab.config.published import PUBLISHED_SHAPES

BASE_URL = "https://allennlp.s3.amazonaws.com/models/elmo"


@dataclass(frozen=True)
class PublishedModel:
    """One published ELMo model (Peters et al. 2018; AllenNLP's ELMo page).

    ``n_params_millions`` is the published parameter count (char CNN, highway, projection and LSTMs; no softmax).
    ``options`` is the architecture we expect its ``options.json`` to describe (the parameter count of this
    architecture matches the published one, see the tests).  A downloaded options file is only checked on what the
    model's name states (layers x LSTM dim, projection, CNN filters, highway layers), since the other fields of
    the published files could not be checked here.
    Sizes / SHA-256 digests: none are recorded here because none could be verified from this project's machines
    (no network); ``download`` therefore checks each file's size against the server's ``Content-Length`` instead.
    """

    name: str
    directory: str
    n_params_millions: float
    options: BiLMOptions
    note: str

    @property
    def options_url(self) -> str:
        return f"{BASE_URL}/{self.directory}/elmo_{self.directory}_options.json"

    @property
    def weights_url(self) -> str:
        return f"{BASE_URL}/{self.directory}/elmo_{self.directory}_weights.hdf5"


PUBLISHED: dict[str, PublishedModel] = {  # the shapes' one home: elmo_lab.config.published
    name: PublishedModel(name, s["directory"], s["n_params_millions"], BiLMOptions.from_dict(s["options"], name),
                         s["note"]) for name, s in PUBLISHED_SHAPES.items()}
_BY_DIRECTORY = {m.directory: m for m in PUBLISHED.values()}


# the biLMs shipped inside the package: name -> (folder under elmo_lab/resources/, the command that trains it)
PACKAGED = {"default": ("default_bilm", "python pretrain.py --config-name pretrain_default_bilm"),
            "default_transformer": ("default_transformer",
                                    "python pretrain.py --config-name pretrain_default_transformer")}


def packaged_bilm_dir(name: str = "default") -> Path:
    """Where a packaged biLM (``PACKAGED``) lives (shipped by the pretraining work; may be absent in a checkout)."""
    return Path(str(resources.files("elmo_lab"))) / "resources" / PACKAGED[name][0]


def default_bilm_dir() -> Path:
    """Where the packaged default biLM lives."""
    return packaged_bilm_dir("default")


def published_model(name: str) -> PublishedModel:
    """Look up a published model by its short name or AllenNLP directory name."""
    model = PUBLISHED.get(name) or _BY_DIRECTORY.get(name)
    if model is None:
        raise BiLMConfigError(f"unknown published biLM {name!r}; valid names: {', '.join(PUBLISHED)}")
    return model


def fetch_published(name: str, cache_dir: str | Path | None = None,
                    progress: bool = True) -> tuple[Path, Path]:
    """Download (once) a published model's options and weights; return their paths in the cache.

    Files go to ``<cache>/bilm/<directory>/`` (``cache`` defaults to ``$ELMO_LAB_CACHE`` or ``~/.cache/elmo_lab``).
    The options file is checked against the architecture this module records for ``name``.
    """
    model = published_model(name)
    folder = Path(cache_dir) if cache_dir is not None else user_cache_dir()
    folder = folder / "bilm" / model.directory
    options_path = download(model.options_url, folder / f"elmo_{model.directory}_options.json", progress=progress)
    got, want = _named_fields(BiLMOptions.load(options_path)), _named_fields(model.options)
    if got != want:
        raise BiLMConfigError(f"{options_path}: does not describe {model.name} (expected {want}, got {got}); "
                              "delete it to download it again")
    weights_path = download(model.weights_url, folder / f"elmo_{model.directory}_weights.hdf5", progress=progress)
    return options_path, weights_path


def _named_fields(options: BiLMOptions) -> dict[str, int]:
    """The fields an AllenNLP model name such as ``2x4096_512_2048cnn_2xhighway`` spells out."""
    return {"n_layers": options.n_layers, "lstm_dim": options.lstm_dim, "projection_dim": options.projection_dim,
            "n_filters": options.n_filters, "n_highway": options.n_highway}


def _pair_in_directory(folder: Path) -> tuple[Path, Path]:
    options, weights = folder / "options.json", folder / "weights.hdf5"
    if options.is_file() and weights.is_file():
        return options, weights
    found_options = sorted(folder.glob("*options.json"))
    found_weights = sorted(folder.glob("*weights.hdf5"))
    if len(found_options) == 1 and len(found_weights) == 1:
        return found_options[0], found_weights[0]
    raise BiLMConfigError(f"{folder}: expected options.json and weights.hdf5 (or exactly one *options.json and one "
                          f"*weights.hdf5) in this directory")


def resolve_bilm(spec: str, cache_dir: str | Path | None = None, progress: bool = True) -> tuple[Path, Path]:
    """Turn a biLM spec (see the module docstring) into ``(options_path, weights_path)``, downloading if needed."""
    spec = str(spec).strip()
    if spec in PACKAGED:
        folder = packaged_bilm_dir(spec)
        options, weights = folder / "options.json", folder / "weights.hdf5"
        if not (options.is_file() and weights.is_file()):
            raise BiLMConfigError(f"the packaged biLM {spec!r} is not shipped in this installation (no {options} and "
                                  f"{weights}; {PACKAGED[spec][1]} trains it); use one of: "
                                  f"{', '.join(PUBLISHED)}, a directory, or OPTIONS.json,WEIGHTS.hdf5")
        return options, weights
    if spec in PUBLISHED or spec in _BY_DIRECTORY:
        return fetch_published(spec, cache_dir, progress)
    if "," in spec:
        parts = [p.strip() for p in spec.split(",")]
        if len(parts) != 2 or not all(parts):
            raise BiLMConfigError(f"biLM spec {spec!r}: expected exactly OPTIONS.json,WEIGHTS.hdf5")
        options, weights = Path(parts[0]).expanduser(), Path(parts[1]).expanduser()
        for path, what in ((options, "options file"), (weights, "weight file")):
            if not path.is_file():
                raise BiLMConfigError(f"{path}: {what} not found (from biLM spec {spec!r})")
        return options, weights
    path = Path(spec).expanduser()
    if path.is_dir():
        return _pair_in_directory(path)
    packaged = " or ".join(map(repr, PACKAGED))
    raise BiLMConfigError(f"unknown biLM {spec!r}: expected {packaged}, a published name ({', '.join(PUBLISHED)}), "
                          "a directory with options.json and weights.hdf5, or OPTIONS.json,WEIGHTS.hdf5")


def load_named_bilm(spec: str, cache_dir: str | Path | None = None, progress: bool = True) -> CharBiLMBase:
    """``resolve_bilm`` then ``load_bilm``: a ready biLM in eval mode."""
    options, weights = resolve_bilm(spec, cache_dir, progress)
    return load_bilm(options, weights)


__all__ = ["PACKAGED", "PUBLISHED", "PublishedModel", "default_bilm_dir", "packaged_bilm_dir", "fetch_published",
           "load_named_bilm", "published_model", "resolve_bilm"]
