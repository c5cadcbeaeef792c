"""The biLM layer cache shared across runs: keys follow the weights, the sequences and their tokens; values are a
fresh biLM pass's; concurrent writers leave one valid entry; bad entries are rebuilt; the size cap evicts the least
recently used; ``python -m elmo_lab cache info|clear``; ``bilm.cache=true/false`` still compose."""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from elmo_lab.cache import entry as layer_entry
from elmo_lab.config.schema import ConfigError
from elmo_lab.elmo.provider import ContextualLayers
from elmo_lab.cache.store import LayerStore, default_root, entry_key, sequences_digest, weights_digest
from train_helpers import compose_train, tiny_bilm

SEQUENCES = [["The", "river", "flows", "."], ["Where", "does", "it", "flow", "?"], ["Yes"], ["do", "n't", "go"]]
REPO = Path(__file__).resolve().parents[2]


def _bilm_cfg(spec: Path, cache_dir: Path, **kw) -> dict:
    return dict(spec=str(spec), freeze=True, stateful=False, cache=True, cache_on_disk=True,
                cache_dir=str(cache_dir), cache_max_gb=1.0, finetune=dict(enabled=False)) | kw


def _elmo(spec: Path, cache_dir: Path, **kw) -> tuple[ContextualLayers, list]:
    """A biLM stage with the disk cache, every registered sequence, and a list that counts its biLM passes."""
    elmo = ContextualLayers.from_config(_bilm_cfg(spec, cache_dir, **kw), needed=True)
    elmo.cache.add(SEQUENCES)
    calls: list = []
    elmo.encoder.bilm.register_forward_hook(lambda *args: calls.append(1))
    return elmo, calls


def _entries(cache_dir: Path) -> list[Path]:
    return sorted(p for p in cache_dir.iterdir() if p.is_dir() and len(p.name) == 40)


def test_key_follows_weights_sequences_and_tokens() -> None:
    a, b = tiny_bilm(0), tiny_bilm(0)
    assert weights_digest(a) == weights_digest(b)  # content, not identity
    assert weights_digest(a) != weights_digest(tiny_bilm(1))
    before = weights_digest(a)
    with torch.no_grad():
        next(a.parameters()).add_(1e-3)  # fine-tuning changes the weights in place: the memo notices
    assert weights_digest(a) != before
    seqs = sequences_digest([("The", "river"), ("Yes",)])
    assert seqs != sequences_digest([("The", "river")])  # another set of sequences
    assert sequences_digest([("do", "n't")]) != sequences_digest([("don't",)])  # another tokenisation
    assert sequences_digest([("a b",)]) != sequences_digest([("a", "b")])
    key = entry_key(before, seqs, "float32")
    assert len({key, entry_key(weights_digest(a), seqs, "float32"), entry_key(before, seqs, "torch.bfloat16")}) == 3


def test_values_equal_a_fresh_pass_and_a_second_run_reads_them(tiny_bilm_dir: Path, tmp_path: Path) -> None:
    first, calls = _elmo(tiny_bilm_dir, tmp_path)
    cached = first.layers(SEQUENCES)  # (4, L + 1, 5, dim): one biLM pass, written to disk
    fresh = ContextualLayers.from_config(_bilm_cfg(tiny_bilm_dir, tmp_path, cache=False), needed=True).layers(SEQUENCES)
    assert len(calls) == 1 and cached.shape == fresh.shape and cached.dtype == torch.float32
    assert torch.allclose(cached, fresh, atol=2e-3)  # float16 storage
    assert torch.equal(cached[2, :, 1:], torch.zeros_like(cached[2, :, 1:]))  # padding
    second, calls2 = _elmo(tiny_bilm_dir, tmp_path)  # another run: same weights, same sequences
    assert torch.equal(second.layers(SEQUENCES[::-1]), cached.flip(0)) and not calls2
    assert len(_entries(tmp_path)) == 1
    changed, calls3 = _elmo(tiny_bilm_dir, tmp_path)
    with torch.no_grad():  # as fine-tuning would, before the first layers() call
        next(changed.encoder.bilm.parameters()).mul_(1.5)
    changed.layers(SEQUENCES[:1])
    assert len(calls3) == 1 and len(_entries(tmp_path)) == 2


def test_cache_flags_choose_disk_memory_or_none(tiny_bilm_dir: Path, tmp_path: Path) -> None:
    memory, calls = _elmo(tiny_bilm_dir, tmp_path, cache_on_disk=False)
    memory.layers(SEQUENCES)
    assert len(calls) == 1 and not tmp_path.joinpath("locks").exists() and not _entries(tmp_path)
    off = ContextualLayers.from_config(_bilm_cfg(tiny_bilm_dir, tmp_path, cache=False), needed=True)
    assert off.cache is None and off.batch_input is not None
    with pytest.raises(ConfigError, match="bilm.cache_max_gb"):
        ContextualLayers.from_config(_bilm_cfg(tiny_bilm_dir, tmp_path, cache_max_gb=0), needed=True)
    for flag in ("true", "false"):
        cfg = compose_train([f"bilm.cache={flag}"])
        assert cfg.bilm.cache is (flag == "true") and cfg.bilm.cache_on_disk and cfg.bilm.cache_dir is None
        store = LayerStore.from_config(cfg.bilm)
        assert (store is None) == (flag == "false")
        if store is not None:
            assert store.root == default_root() and store.max_bytes == int(cfg.bilm.cache_max_gb * 2**30)


def _fill_in_process(spec: str, cache_dir: str, barrier, results) -> None:
    """One of two processes (jobs of a sweep, DDP ranks) asking for the same entry at the same moment."""
    torch.set_num_threads(1)
    elmo = ContextualLayers.from_config(_bilm_cfg(Path(spec), Path(cache_dir)), needed=True)
    elmo.cache.add(SEQUENCES)
    passes = elmo.cache._passes

    def slow_passes(*args):  # a biLM pass long enough that the other process surely asks while this one writes
        time.sleep(1.0)
        yield from passes(*args)
    elmo.cache._passes = slow_passes
    barrier.wait()
    try:
        layers = elmo.layers(SEQUENCES).numpy()
        results.put((next(iter(elmo.cache._on_disk.values()))[0].built, layers))
    except Exception as e:  # reported to the test instead of leaving it waiting
        results.put((repr(e), None))


def test_two_processes_filling_one_entry_leave_one_valid_entry(tiny_bilm_dir: Path, tmp_path: Path) -> None:
    ctx = mp.get_context("fork")  # separate processes; fork spares each one importing torch again
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_fill_in_process, args=(str(tiny_bilm_dir), str(tmp_path), barrier, results))
             for _ in range(2)]
    for p in procs:
        p.start()
    out = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert sorted(built for built, _ in out) == [False, True], out  # one wrote it, the other waited and read it
    assert np.array_equal(out[0][1], out[1][1])
    (entry,) = _entries(tmp_path)
    layer_entry.LayerEntry(entry).verify()
    assert not list(tmp_path.glob(".*.tmp"))


def test_truncated_or_corrupt_entries_are_rebuilt(tiny_bilm_dir: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layer_entry, "CHUNK_BYTES", 64)  # many chunks, so that one bad byte fails one chunk's CRC
    good, _ = _elmo(tiny_bilm_dir, tmp_path)
    expected = good.layers(SEQUENCES)
    (entry,) = _entries(tmp_path)
    layers = entry / layer_entry.LAYERS

    def damage_and_reread(damage) -> list:
        damage()
        elmo, calls = _elmo(tiny_bilm_dir, tmp_path)
        assert torch.equal(elmo.layers(SEQUENCES), expected)
        layer_entry.LayerEntry(_entries(tmp_path)[0]).verify()  # rebuilt whole
        return calls

    size = layers.stat().st_size
    assert len(damage_and_reread(lambda: os.truncate(layers, size - 10))) == 1  # truncated: found at open
    manifest = entry / layer_entry.MANIFEST

    def edit_manifest() -> None:
        m = json.loads(manifest.read_text())
        m["tokens"] += 1
        manifest.write_text(json.dumps(m))
    assert len(damage_and_reread(edit_manifest)) == 1  # manifest checksum mismatch

    def flip_a_byte() -> None:
        data = bytearray(layers.read_bytes())
        data[size // 2] ^= 0xFF
        layers.write_bytes(bytes(data))
    assert len(damage_and_reread(flip_a_byte)) == 1  # size and manifest fine: a chunk fails its CRC when read
    (entry / layer_entry.OFFSETS).unlink()  # half-removed
    assert len(damage_and_reread(lambda: None)) == 1

    def killed_writer() -> None:  # a writer killed mid-way leaves only its temporary directory
        dead = tmp_path / f".{entry.name}.dead.tmp"
        os.rename(entry, dead)
        os.truncate(dead / layer_entry.LAYERS, 100)
    assert len(damage_and_reread(killed_writer)) == 1
    assert not list(tmp_path.glob(".*.tmp"))  # cleaned up by the next writer of that entry


def _blocks(lengths: list[int], value: float):
    return lambda: iter([np.full((sum(lengths), 2, 8), value, dtype=np.float16)])


def test_least_recently_used_entries_are_evicted_beyond_the_cap(tmp_path: Path) -> None:
    lengths = [100, 156]  # 256 tokens x 2 layers x 8 x 2 bytes = 8 KiB of layers per entry
    probe = LayerStore(tmp_path / "probe")
    probe.open_or_build("f" * 40, lengths, 2, 8, _blocks(lengths, 0))
    size = probe.entries()[0].size
    store = LayerStore(tmp_path / "store", max_bytes=int(2.5 * size))
    keys = [c * 40 for c in "abc"]
    for i, key in enumerate(keys[:2]):
        store.open_or_build(key, lengths, 2, 8, _blocks(lengths, i))
        os.utime(tmp_path / "store" / key, (1000 + i, 1000 + i))  # distinct last-use times
    store.open_or_build(keys[0], lengths, 2, 8, _blocks(lengths, 9))  # a hit: now the most recently used
    entry = store.open_or_build(keys[2], lengths, 2, 8, _blocks(lengths, 2))
    assert entry.built and {e.key for e in store.entries()} == {keys[0], keys[2]}  # b, least recently used, went
    assert float(store.open_or_build(keys[0], lengths, 2, 8, _blocks(lengths, 7)).sequence(1)[0, 0, 0]) == 0.0
    assert sum(e.size for e in store.entries()) <= store.max_bytes


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "elmo_lab", "cache", *args], capture_output=True, text=True,
                          cwd=REPO, env=dict(os.environ, ELMO_LAB_CACHE=str(home)))


def test_cli_info_and_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    store = LayerStore(tmp_path, label="tiny")
    keys = [c * 40 for c in "ab"]
    for key in keys:
        store.open_or_build(key, [3, 4], 2, 8, _blocks([3, 4], 1), dict(options=dict(lstm_dim=16, projection_dim=8)))
    (tmp_path / f".{'c' * 40}.dead.tmp").mkdir()  # a killed writer's leftovers
    home = tmp_path / "home"
    info = _cli("info", "--dir", str(tmp_path), "--verify", home=home)  # a subprocess each: the real entry point
    assert info.returncode == 0, info.stderr
    assert f"{tmp_path}: 2 entries" in info.stdout and info.stdout.count(" ok") == 2
    assert "aaaaaaaaaaaa" in info.stdout and "tiny (lstm 16/8, None), 2 seqs, 7 tokens, layers 2x8" in info.stdout
    cleared = _cli("clear", "--dir", str(tmp_path), "aaaa", home=home)
    assert cleared.returncode == 0 and "removed 1 entries" in cleared.stdout
    assert [e.key for e in store.entries()] == [keys[1]]
    bad = _cli("clear", "--dir", str(tmp_path), "zz", home=home)
    assert bad.returncode == 2 and bad.stderr == f"error: cache clear: no entry in {tmp_path} starts with 'zz'\n"

    from elmo_lab.__main__ import main  # the rest in this process (each subprocess pays for importing torch)

    monkeypatch.setenv("ELMO_LAB_CACHE", str(home))
    monkeypatch.delenv("ELMO_LAB_LAYERS")  # set for the whole session by conftest
    assert main(["cache", "clear", "--dir", str(tmp_path)]) == 0
    assert "removed 1 entries and 1 unfinished writes; 0 left" in capsys.readouterr().out
    assert not store.entries() and not list(tmp_path.glob(".*.tmp"))
    assert main(["cache", "info"]) == 0  # the default directory ($ELMO_LAB_CACHE/layers), absent: empty
    assert f"{home / 'layers'}: 0 entries" in capsys.readouterr().out
    monkeypatch.setenv("ELMO_LAB_LAYERS", str(tmp_path / "scratch"))  # takes precedence over $ELMO_LAB_CACHE
    assert main(["cache", "info"]) == 0
    assert f"{tmp_path / 'scratch'}: 0 entries" in capsys.readouterr().out
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv("ELMO_LAB_LAYERS", str(tmp_path / "a_file"))
    assert main(["cache", "info"]) == 2
    assert capsys.readouterr().err == (f"error: cache info: the layer store {tmp_path / 'a_file'} ($ELMO_LAB_LAYERS or "
                                       "$ELMO_LAB_CACHE/layers) is not a directory\n")
    monkeypatch.setenv("ELMO_LAB_LAYERS", str(tmp_path / "scratch"))
    for args, message in [(("info", "--dir", str(tmp_path / "nope")), "is not a directory"),
                          (("clear", "--keep-gb", "-1"), "--keep-gb must be >= 0"),
                          (("clear", "b", "--keep-gb", "1"), "either KEYs or --keep-gb")]:
        assert main(["cache", *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: cache") and message in err, (args, err)
    with pytest.raises(SystemExit) as exited:  # argparse's own message, as for every command
        main(["cache", "purge"])
    assert exited.value.code == 2 and "invalid choice: 'purge'" in capsys.readouterr().err


def test_cli_clear_keep_gb_removes_the_least_recently_used_until_under_the_size(tmp_path: Path) -> None:
    from elmo_lab.cli.cache import GB

    store = LayerStore(tmp_path)
    keys = [c * 40 for c in "abc"]
    for when, key in enumerate(keys):  # a used first, c last
        store.open_or_build(key, [3, 4], 2, 8, _blocks([3, 4], 1))
        os.utime(store.root / key, (1_000_000 + when, 1_000_000 + when))
    size = store.entries()[0].size
    result = _cli("clear", "--dir", str(tmp_path), "--keep-gb", str(2.5 * size / GB), home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert "removed 1 entries" in result.stdout and "2 left" in result.stdout
    assert [e.key for e in store.entries()] == keys[1:]  # the oldest went
    assert _cli("clear", "--dir", str(tmp_path), "--keep-gb", "0", home=tmp_path / "home").returncode == 0
    assert store.entries() == []
