"""The reference implementation's own tiny test biLM, pinned: ``python -m elmo_lab fetch bilm_tf_fixture``.

allenai/bilm-tf (Apache License 2.0) keeps in ``tests/fixtures/`` a tiny biLM (``options.json``,
``lm_weights.hdf5``), thirty sentences and the top-layer outputs its TensorFlow code produced for them
(``lm_embeddings_k.hdf5``), plus its tiny training corpus.  This project's parity tests compare against those outputs;
the files are for tests only and never part of the package.  ``fetch_fixture`` downloads them at one commit into
``$ELMO_LAB_CACHE/bilm_tf_fixture/`` (the model's files at the top, ``train/`` beside them: the layout the tests read),
each checked against the size and SHA-256 recorded here.
"""
from __future__ import annotations

from pathlib import Path

from elmo_lab.util.download import cache_dir, download

COMMIT = "7cffee2b0986be51f5e2a747244836e1047657f4"  # allenai/bilm-tf master, 2018-10-16
BASE_URL = f"https://raw.githubusercontent.com/allenai/bilm-tf/{COMMIT}/tests/fixtures"
# local name -> (path under tests/fixtures at COMMIT, bytes, SHA-256)
FILES = {
    "options.json": ("model/options.json", 308,
                     "2a453e9f98d49e1803417fcaa3c84b8b351827212aa1139ab65883e93dbbffce"),
    "lm_weights.hdf5": ("model/lm_weights.hdf5", 450896,
                        "dd04f92cd41c89f8880a99320bda17ec4c8620f8c9d1051e61cc457afc6d44e4"),
    "lm_embeddings_sentences.json": ("model/lm_embeddings_sentences.json", 4095,
                                     "989c91e9844afa71c707910abbbce9db20d76f43c7689101f0f9a8a68ca7ac81"),
    "lm_embeddings_0.hdf5": ("model/lm_embeddings_0.hdf5", 44000,
                             "9ae566342b1cea72a819164fa3c32813ed746f87b865d968f7e32c93fc6dc503"),
    "lm_embeddings_1.hdf5": ("model/lm_embeddings_1.hdf5", 34016,
                             "858442f44b1ed86806042077b6aa5204ad82841b3e1d1804a44fe0a343b2ee8a"),
    "lm_embeddings_2.hdf5": ("model/lm_embeddings_2.hdf5", 35936,
                             "c284ef94a6e3b791fdb02233aa247aa59faa4571bc50169152f80f7178692d2b"),
    "vocab_test.txt": ("model/vocab_test.txt", 2960,
                       "9710991ec26ebf8ba4f7750f01b2fa5cbfc3e88b6e40149c55ef885a3faa5f47"),
    "train/data.txt": ("train/data.txt", 815, "60da1e07659b5a265d6af2295fdd4fa556d9f614f9eab188f603e767ec306196"),
    "train/vocab.txt": ("train/vocab.txt", 190, "48ad6a8519c6dad6840dca8691588122a0cbcf4f8974f390c5bd651bcc29f64b"),
}


def fixture_dir() -> Path:
    """Where ``fetch_fixture`` puts the files: ``$ELMO_LAB_CACHE/bilm_tf_fixture``."""
    return cache_dir() / "bilm_tf_fixture"


def fetch_fixture(base_url: str | None = None) -> Path:
    """Download (or check the cached copy of) every file of ``FILES``; return the folder.  ``DownloadError`` (one
    line naming the address) when a file cannot be fetched or does not match its size and checksum."""
    folder, base_url = fixture_dir(), base_url or BASE_URL
    for local, (remote, size, sha256) in FILES.items():
        download(f"{base_url}/{remote}", folder / local, sha256=sha256, size=size, progress=False)
    return folder
