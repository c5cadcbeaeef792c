"""options.json reading: the official layout round-trips; malformed values fail with a message naming the key."""
from __future__ import annotations

import json

import pytest

from elmo_lab.bilm import BiLMConfigError, BiLMOptions


def test_fixture_options_round_trip(bilm_tf_dir):
    raw = json.loads((bilm_tf_dir / "options.json").read_text())
    options = BiLMOptions.from_dict(raw)
    assert options.n_filters == 124 and options.output_dim == 32 and options.cell_clip == 3.0
    assert BiLMOptions.from_dict(options.to_dict()) == options


def test_null_highway_means_none(bilm_tf_dir):
    raw = json.loads((bilm_tf_dir / "options.json").read_text())
    raw["char_cnn"]["n_highway"] = None
    assert BiLMOptions.from_dict(raw).n_highway == 0


@pytest.mark.parametrize("edit, key", [
    (lambda d: d["char_cnn"]["filters"].__setitem__(0, [2]), "char_cnn.filters"),
    (lambda d: d["lstm"].__setitem__("projection_dim", "16"), "projection_dim"),
    (lambda d: d["lstm"].__setitem__("cell_clip", "x"), "lstm.cell_clip"),
    (lambda d: d["char_cnn"].__setitem__("activation", "gelu"), "char_cnn.activation"),
    (lambda d: d.pop("lstm"), "'lstm'"),
])
def test_malformed_options_name_the_key(bilm_tf_dir, edit, key):
    raw = json.loads((bilm_tf_dir / "options.json").read_text())
    edit(raw)
    with pytest.raises(BiLMConfigError, match=key.replace(".", r"\.")) as err:
        BiLMOptions.from_dict(raw, source="my_options.json")
    assert str(err.value).startswith("my_options.json: ") and "\n" not in str(err.value)


def test_invalid_json_names_file_and_line(tmp_path):
    path = tmp_path / "options.json"
    path.write_text('{\n  "lstm": {,\n}')
    with pytest.raises(BiLMConfigError, match=r"options\.json:2: not valid JSON"):
        BiLMOptions.load(path)
