"""``report --aso``: the ASO column holds ε_min of each comparison (near 0 when the configuration's scores lie above
the baseline's; the other direction is in ``test_stats.py``), and without the flag the terminal has no such column."""
from __future__ import annotations

from pathlib import Path

import pytest

from elmo_lab.__main__ import main
from report_helpers import write_run


def _aso_column(text: str) -> dict[str, str]:
    """``{configuration: ASO cell}`` from the comparisons table of the report's text (cells padded or not)."""
    table = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in text.splitlines()
             if line.startswith("|")]
    header = next(row for row in table if "ASO ε_min" in row)
    column, name = header.index("ASO ε_min"), header.index("configuration")
    return {row[name]: row[column] for row in table if len(row) == len(header) and row[name].startswith("placement=")}


@pytest.mark.slow
def test_report_aso_orders_the_configurations(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for seed in range(5):
        write_run(tmp_path, placement="none", seed=seed, test=0.70 + 0.01 * seed)
        write_run(tmp_path, placement="input", seed=seed, test=0.80 + 0.01 * seed)  # above every baseline seed
    assert main(["report", str(tmp_path)]) == 0
    assert "ASO ε_min" not in capsys.readouterr().out  # the terminal shows the column only when asked for
    assert main(["report", str(tmp_path), "--aso"]) == 0
    cells = _aso_column(capsys.readouterr().out)
    assert list(cells) == ["placement=input"] and float(cells["placement=input"]) <= 0.05, cells
