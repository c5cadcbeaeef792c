"""``python -m elmo_lab embed``: HDF5 layout, values equal ``BiLM.embed_sentences``, clean user errors, resume."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from elmo_lab.cli import embed as embed_module
from elmo_lab.__main__ import main
from elmo_lab.bilm import load_bilm
from elmo_lab.cli.embed import EmbedError, embed_file, scan_input

LINES = ["The cat sat on the mat .", "Pretrained biLMs compute representations", "Ünïcödé   tokens\ttoo",
         "x", "The cat sat on the mat ."]


def _run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, ELMO_LAB_CACHE=str(cwd / "cache"))
    return subprocess.run([sys.executable, "-m", "elmo_lab", "embed", *args, "--quiet"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _model_args(bilm_tf_dir: Path) -> list[str]:
    return ["--options", str(bilm_tf_dir / "options.json"), "--weights", str(bilm_tf_dir / "lm_weights.hdf5")]


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "input.txt"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def bilm(bilm_tf_dir):
    return load_bilm(bilm_tf_dir / "options.json", bilm_tf_dir / "lm_weights.hdf5")


def _expected(bilm, batch_size: int) -> list[np.ndarray]:
    """(L + 1, n, 2P) per line, from embed_sentences on the same batches."""
    tokens = [line.split() for line in LINES]
    out = []
    for start in range(0, len(tokens), batch_size):
        batch = tokens[start:start + batch_size]
        layers = bilm.embed_sentences(batch).layers
        out += [layers[i, :, :len(t)].numpy() for i, t in enumerate(batch)]
    return out


def test_cli_writes_all_layers(bilm_tf_dir, text_file, tmp_path, bilm):
    output = tmp_path / "out" / "embeddings.hdf5"
    result = _run_cli(str(text_file), str(output), *_model_args(bilm_tf_dir), "--batch-size", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not list(output.parent.glob("*.partial"))
    expected = _expected(bilm, batch_size=2)
    with h5py.File(output, "r") as f:
        assert sorted(f.keys()) == sorted([str(i) for i in range(len(LINES))] + ["sentence_to_index"])
        for i, line in enumerate(LINES):
            data = f[str(i)]
            assert data.dtype == np.float32 and data.shape == (3, len(line.split()), 32)
            np.testing.assert_allclose(data[...], expected[i], rtol=0, atol=1e-6)
        index = json.loads(f["sentence_to_index"][0])
        assert index == {"The cat sat on the mat .": "4", "Pretrained biLMs compute representations": "1",
                         "Ünïcödé   tokens\ttoo": "2", "x": "3"}
        assert f.attrs["layers"] == "all" and not f.attrs["stateful"]
        assert json.loads(f.attrs["bilm_options"])["lstm"]["projection_dim"] == 16


def test_cli_blank_line_is_file_line_error(bilm_tf_dir, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("a b\nc\n   \nd\n\n")
    output = tmp_path / "out.hdf5"
    result = _run_cli(str(bad), str(output), *_model_args(bilm_tf_dir), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {bad}:3: blank line (and 1 more blank lines)")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == [bad]  # nothing written


def test_cli_missing_weights_is_clean_error(bilm_tf_dir, text_file, tmp_path):
    missing = tmp_path / "nowhere" / "weights.hdf5"
    result = _run_cli(str(text_file), str(tmp_path / "out.hdf5"), "--options", str(bilm_tf_dir / "options.json"),
                      "--weights", str(missing), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {missing}: weight file not found"
    assert not (tmp_path / "out.hdf5").exists()


@pytest.mark.parametrize("mode", ["top", "average"])
def test_top_and_average_are_n_by_2p(bilm_tf_dir, text_file, tmp_path, bilm, mode):
    output = tmp_path / f"{mode}.hdf5"
    assert main(["embed", str(text_file), str(output), *_model_args(bilm_tf_dir), "--layers", mode,
                 "--batch-size", "3", "--quiet"]) == 0
    expected = _expected(bilm, batch_size=3)
    with h5py.File(output, "r") as f:
        for i, line in enumerate(LINES):
            want = expected[i][-1] if mode == "top" else expected[i].mean(0)
            assert f[str(i)].shape == (len(line.split()), 32)
            np.testing.assert_allclose(f[str(i)][...], want, rtol=0, atol=1e-6)


def test_stateful_carries_state_between_batches(bilm_tf_dir, text_file, tmp_path, bilm):
    output = tmp_path / "stateful.hdf5"
    assert main(["embed", str(text_file), str(output), *_model_args(bilm_tf_dir), "--stateful",
                 "--batch-size", "2", "--quiet"]) == 0
    bilm.reset_state()
    tokens = [line.split() for line in LINES]
    with h5py.File(output, "r") as f:
        assert f.attrs["stateful"]
        for start in range(0, len(tokens), 2):
            layers = bilm.embed_sentences(tokens[start:start + 2], stateful=True).layers
            for row, t in enumerate(tokens[start:start + 2]):
                np.testing.assert_allclose(f[str(start + row)][...], layers[row, :, :len(t)].numpy(), atol=1e-6)
        # line 4 repeats line 0 but starts from carried state, so it differs in the LSTM layers
        assert not np.allclose(f["0"][1:], f["4"][1:])
        np.testing.assert_array_equal(f["0"][0], f["4"][0])
    bilm.reset_state()


def test_user_errors_in_process(bilm_tf_dir, text_file, tmp_path, capsys):
    out = str(tmp_path / "o.hdf5")
    assert main(["embed", str(tmp_path / "missing.txt"), out, *_model_args(bilm_tf_dir)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'missing.txt'}: input file not found"
    assert main(["embed", str(text_file), out, "--options", str(bilm_tf_dir / "options.json")]) == 2
    assert "--options and --weights must be given together" in capsys.readouterr().err
    assert main(["embed", str(text_file), out, "--bilm", "elmo_huge"]) == 2
    assert "elmo_small, elmo_medium, elmo_original, elmo_original_5.5B" in capsys.readouterr().err
    assert main(["embed", str(text_file), out, *_model_args(bilm_tf_dir), "--batch-size", "0"]) == 2
    assert "--batch-size must be >= 1" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert main(["embed", str(empty), out, *_model_args(bilm_tf_dir)]) == 2
    assert "no sentences" in capsys.readouterr().err
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("ok line\ncaf\xe9\n".encode("latin-1"))
    assert main(["embed", str(latin1), out, *_model_args(bilm_tf_dir)]) == 2
    assert f"{latin1}:2: not valid UTF-8" in capsys.readouterr().err
    assert not Path(out).exists()
    with pytest.raises(SystemExit) as e:  # argparse's own errors also exit 2
        main(["embed", str(text_file), out, "--layers", "middle"])
    assert e.value.code == 2


def test_interrupted_run_leaves_nothing_and_resumes(bilm_tf_dir, text_file, tmp_path, bilm, monkeypatch):
    output = tmp_path / "out.hdf5"
    calls = []
    real = type(bilm).embed_sentences

    def interrupt_on_third_batch(self, sentences, stateful=False):
        calls.append(len(sentences))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, sentences, stateful)

    monkeypatch.setattr(type(bilm), "embed_sentences", interrupt_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        embed_file(bilm, text_file, output, batch_size=2, progress=False)
    assert not output.exists()
    partial = tmp_path / "out.hdf5.partial"
    with h5py.File(partial, "r") as f:
        assert f.attrs["n_done"] == 4 and "sentence_to_index" not in f

    calls.clear()
    assert embed_file(bilm, text_file, output, batch_size=2, progress=False) == len(LINES)
    assert calls == [1]  # only the last batch was computed again
    assert not partial.exists()
    monkeypatch.undo()
    expected = _expected(bilm, batch_size=2)
    with h5py.File(output, "r") as f:
        for i in range(len(LINES)):
            np.testing.assert_allclose(f[str(i)][...], expected[i], rtol=0, atol=1e-6)
        assert "n_done" not in f.attrs


def test_partial_from_other_settings_is_not_reused(bilm_tf_dir, text_file, tmp_path, bilm):
    output = tmp_path / "out.hdf5"
    partial = tmp_path / "out.hdf5.partial"
    with h5py.File(partial, "w") as f:  # a stale partial from another input
        f.attrs.update({"n_done": 4, "input_sha256": "0" * 64})
        f.create_dataset("0", data=np.zeros((3, 1, 32), np.float32))
    embed_file(bilm, text_file, output, batch_size=2, progress=False)
    with h5py.File(output, "r") as f:
        assert f["0"].shape == (3, len(LINES[0].split()), 32)
    partial.write_bytes(b"damaged by a crash")
    embed_file(bilm, text_file, output, batch_size=2, progress=False, layers="top")
    with h5py.File(output, "r") as f:
        assert f.attrs["layers"] == "top"


def test_scan_input_counts_and_rejects(tmp_path):
    good = tmp_path / "good.txt"
    good.write_bytes("\ufeffa b\nc\n".encode("utf-8"))
    n, sha = scan_input(good)
    assert n == 2 and len(sha) == 64
    bad = tmp_path / "bad.txt"
    bad.write_text("\nx\n")
    with pytest.raises(EmbedError, match=r"bad\.txt:1: blank line;"):
        scan_input(bad)
    assert embed_module.LAYER_MODES == ("all", "top", "average")


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0 and "embed" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["embed", "--help"])
    assert "--stateful" in capsys.readouterr().out


def test_ctrl_c_in_cli_is_one_line_and_exit_130(bilm_tf_dir, text_file, tmp_path, capsys, monkeypatch):
    from elmo_lab.bilm import BiLM

    def interrupted(self, sentences, stateful=False):
        raise KeyboardInterrupt

    monkeypatch.setattr(BiLM, "embed_sentences", interrupted)
    output = tmp_path / "out.hdf5"
    assert main(["embed", str(text_file), str(output), *_model_args(bilm_tf_dir), "--quiet"]) == 130
    assert capsys.readouterr().err.strip() == "error: interrupted (rerun the same command to resume where it can)"
    assert not output.exists()


def test_cli_reproduces_the_reference_implementations_own_outputs(bilm_tf_dir, tmp_path):
    """An independent oracle: bilm-tf's ``lm_embeddings_k.hdf5`` (its stateful top layer, ten batches of three
    sentences in order), reproduced through the command line with the same batches and state carried."""
    sentences = json.loads((bilm_tf_dir / "lm_embeddings_sentences.json").read_text())
    lines = [sentences[k][i] for i in range(10) for k in range(3)]  # batch i = the i-th sentence of each list
    text = tmp_path / "reference.txt"
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    output = tmp_path / "top.hdf5"
    result = _run_cli(str(text), str(output), *_model_args(bilm_tf_dir), "--stateful", "--batch-size", "3",
                      "--layers", "top", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    expected = [h5py.File(bilm_tf_dir / f"lm_embeddings_{k}.hdf5", "r") for k in range(3)]
    with h5py.File(output, "r") as f:
        for line in range(30):
            i, k = divmod(line, 3)
            want = expected[k][str(i)][...]  # (2, n_tokens, 16): forward, backward
            np.testing.assert_allclose(f[str(line)][...], np.concatenate([want[0], want[1]], -1), rtol=0, atol=1e-6)
