"""The cached downloader, against file:// URLs and a fake opener (never the network)."""
from __future__ import annotations

import hashlib
import io
import urllib.error
from pathlib import Path

import pytest

from elmo_lab.util import download as dl
from elmo_lab.util.download import DownloadError, cache_dir, download

PAYLOAD = bytes(range(256)) * 40  # 10 240 bytes


@pytest.fixture
def source(tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "server" / "blob.bin"
    path.parent.mkdir()
    path.write_bytes(PAYLOAD)
    return path.as_uri(), path


class FakeResponse(io.BytesIO):
    """What urlopen returns: a readable body with ``status`` and ``headers``; optionally dies after some bytes."""

    def __init__(self, body: bytes, status: int = 200, announce: int | None = None, die_after: int | None = None):
        super().__init__(body)
        self.status = status
        self.headers = {"Content-Length": str(len(body) if announce is None else announce)}
        self.die_after = die_after

    def read(self, n: int = -1) -> bytes:
        if self.die_after is not None and self.tell() >= self.die_after:
            raise ConnectionResetError("connection reset by peer")
        if self.die_after is not None:
            n = min(n if n > 0 else self.die_after, self.die_after - self.tell())
        return super().read(n)


def _no_dest_files(dest: Path) -> list[str]:
    """Files beside ``dest`` other than the (harmless, reusable) lock file."""
    if not dest.parent.exists():
        return []
    return sorted(p.name for p in dest.parent.iterdir() if not p.name.endswith(".lock"))


def test_file_url_download_with_size_and_sha(source, tmp_path):
    url, _ = source
    dest = tmp_path / "cache" / "sub" / "blob.bin"
    got = download(url, dest, sha256=hashlib.sha256(PAYLOAD).hexdigest(), size=len(PAYLOAD), progress=False)
    assert got == dest and dest.read_bytes() == PAYLOAD
    assert _no_dest_files(dest) == ["blob.bin"]  # no .part left behind


def test_checksum_mismatch_names_url_and_expected_and_leaves_nothing(source, tmp_path):
    url, _ = source
    dest = tmp_path / "cache" / "blob.bin"
    wrong = "0" * 64
    with pytest.raises(DownloadError) as e:
        download(url, dest, sha256=wrong, progress=False)
    message = str(e.value)
    assert url in message and wrong in message and hashlib.sha256(PAYLOAD).hexdigest() in message
    assert "\n" not in message
    assert _no_dest_files(dest) == []


def test_size_mismatch_is_an_error(source, tmp_path):
    url, _ = source
    dest = tmp_path / "blob.bin"
    with pytest.raises(DownloadError, match=rf"{len(PAYLOAD) + 1} bytes.*announces {len(PAYLOAD)}"):
        download(url, dest, size=len(PAYLOAD) + 1, progress=False)
    assert not dest.exists()


def test_present_file_with_matching_size_is_reused(source, tmp_path, monkeypatch):
    url, _ = source
    dest = tmp_path / "blob.bin"
    dest.write_bytes(b"x" * len(PAYLOAD))  # same size: trusted, not fetched again

    def no_network(request):
        raise AssertionError("must not download")

    monkeypatch.setattr(dl, "_open", no_network)
    assert download(url, dest, size=len(PAYLOAD), progress=False).read_bytes() == b"x" * len(PAYLOAD)


def test_present_file_with_wrong_size_is_replaced(source, tmp_path):
    url, _ = source
    dest = tmp_path / "blob.bin"
    dest.write_bytes(b"short")
    download(url, dest, size=len(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_offline_is_one_clear_line(tmp_path, monkeypatch):
    def offline(request):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(dl, "_open", offline)
    url = "https://example.invalid/models/weights.hdf5"
    with pytest.raises(DownloadError, match=r"cannot download https://example\.invalid/models/weights\.hdf5: .*offline"):
        download(url, tmp_path / "w.hdf5", progress=False)
    assert _no_dest_files(tmp_path / "w.hdf5") == []


def test_http_error_and_missing_file_url(tmp_path, monkeypatch):
    with pytest.raises(DownloadError, match="cannot download file://"):
        download((tmp_path / "nope.bin").as_uri(), tmp_path / "out.bin", progress=False)

    def not_found(request):
        raise urllib.error.HTTPError(request.full_url, 404, "Not Found", {}, None)

    monkeypatch.setattr(dl, "_open", not_found)
    with pytest.raises(DownloadError, match="HTTP 404 Not Found"):
        download("https://example.invalid/x", tmp_path / "x", progress=False)
    assert not (tmp_path / "x").exists()


def test_interrupted_download_keeps_part_and_resumes_with_range(tmp_path, monkeypatch):
    url = "https://example.invalid/blob.bin"
    dest = tmp_path / "blob.bin"
    monkeypatch.setattr(dl, "_open", lambda request: FakeResponse(PAYLOAD, die_after=3000))
    with pytest.raises(DownloadError, match="resumed on the next try"):
        download(url, dest, size=len(PAYLOAD), progress=False)
    assert not dest.exists()
    part = tmp_path / "blob.bin.part"
    assert part.read_bytes() == PAYLOAD[:3000]

    seen = []

    def resume(request):
        seen.append(request.get_header("Range"))
        return FakeResponse(PAYLOAD[3000:], status=206)

    monkeypatch.setattr(dl, "_open", resume)
    download(url, dest, sha256=hashlib.sha256(PAYLOAD).hexdigest(), size=len(PAYLOAD), progress=False)
    assert seen == ["bytes=3000-"]
    assert dest.read_bytes() == PAYLOAD and not part.exists()


def test_server_ignoring_range_restarts_from_zero(tmp_path, monkeypatch):
    dest = tmp_path / "blob.bin"
    (tmp_path / "blob.bin.part").write_bytes(b"garbage")
    monkeypatch.setattr(dl, "_open", lambda request: FakeResponse(PAYLOAD, status=200))
    download("https://example.invalid/blob.bin", dest, progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_truncated_body_without_exception_is_detected(tmp_path, monkeypatch):
    monkeypatch.setattr(dl, "_open", lambda request: FakeResponse(PAYLOAD[:100], announce=len(PAYLOAD)))
    with pytest.raises(DownloadError, match=f"after 100 of {len(PAYLOAD)} bytes"):
        download("https://example.invalid/blob.bin", tmp_path / "blob.bin", progress=False)
    assert not (tmp_path / "blob.bin").exists()


def test_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("ELMO_LAB_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("ELMO_LAB_CACHE")
    assert cache_dir() == Path.home() / ".cache" / "elmo_lab"


def test_concurrent_callers_download_once(source, tmp_path, monkeypatch):
    """While one caller holds the lock, another waits and then reuses the finished file."""
    import threading
    import time

    url, _ = source
    dest = tmp_path / "cache" / "blob.bin"
    opened, release = [], threading.Event()
    real_open = dl._open

    def slow_open(request):
        opened.append(request.full_url)
        release.wait(timeout=10)
        return real_open(request)

    monkeypatch.setattr(dl, "_open", slow_open)
    results = []
    threads = [threading.Thread(target=lambda: results.append(download(url, dest, progress=False)))
               for _ in range(2)]
    threads[0].start()
    while not opened:  # the first caller is inside the download, holding the lock
        time.sleep(0.01)
    threads[1].start()
    time.sleep(0.3)  # without the lock the second caller would open the URL now
    release.set()
    for t in threads:
        t.join(timeout=20)
    assert results == [dest, dest] and opened == [url]
    assert dest.read_bytes() == PAYLOAD
