"""``report --aso``: the ASO column holds ε_min of each comparison (near 0 when the configuration's scores lie above
the baseline's; the other direction is in ``test_stats.py``), and without the flag it stays empty."""
from __future__ import annotations

from pathlib import Path

import pytest

from elmo_lab.__main__ import main
from report_helpers import write_run


def _aso_column(text: str) -> dict[str, str]:
    """``{configuration: ASO cell}`` from the comparisons table of the report's text."""
    rows = [line.split(" | ") for line in text.splitlines() if line.startswith("| mr | placement=")]
    header = next(line for line in text.splitlines() if "ASO ε_min" in line and line.startswith("|")).split(" | ")
    column = header.index("ASO ε_min")
    return {row[1]: row[column] for row in rows}


@pytest.mark.slow
def test_report_aso_orders_the_configurations(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for seed in range(5):
        write_run(tmp_path, placement="none", seed=seed, test=0.70 + 0.01 * seed)
        write_run(tmp_path, placement="input", seed=seed, test=0.80 + 0.01 * seed)  # above every baseline seed
    assert main(["report", str(tmp_path)]) == 0
    assert set(_aso_column(capsys.readouterr().out).values()) == {"—"}
    assert main(["report", str(tmp_path), "--aso"]) == 0
    cells = _aso_column(capsys.readouterr().out)
    assert list(cells) == ["placement=input"] and float(cells["placement=input"]) <= 0.05, cells
