"""``benchmarks/layer_scale.py`` (the scale figures in docs/results.md), run as a user runs it on a few sentences."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_layer_scale_prints_each_layer_and_a_mix_no_larger_than_their_mean() -> None:
    result = subprocess.run([sys.executable, "benchmarks/layer_scale.py", "--sentences", "40"], cwd=REPO,
                            capture_output=True, text=True, timeout=120, check=True)
    values = {name: float(v) for name, v in re.findall(r"^(.+): RMS ([0-9.]+)$", result.stdout, re.M)}
    layers = [values[f"layer {j}"] for j in range(3)]  # the default biLM: L = 2, so 3 layers
    assert all(v > 0 for v in layers)
    # the RMS of an average is at most the average of the RMS values (Minkowski), with equality only for equal layers
    assert 0 < values["uniform mix, gamma 1"] < sum(layers) / len(layers)
    assert abs(values["nn.Embedding at init"] - 1.0) < 0.05  # N(0, 1) over 100,000 values
