"""``python -m elmo_lab report SWEEP_DIR ...``: build the report (``elmo_lab.report.model``), write it —
``report.md``, ``report.csv`` (``elmo_lab.report.render``) and the PNGs (``elmo_lab.report.plots``) — into
``--out``, print its terminal form, and optionally log it to wandb."""
from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path
from typing import Any, Callable

from elmo_lab.report.model import Report, build_report
from elmo_lab.report.render import numeric_table, render_markdown, render_terminal
from elmo_lab.report.runs import ReportError
from elmo_lab.util.atomic import atomic_path


def _write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows([["" if v is None else v for v in row] for row in rows])
    return path


def write_report(report: Report, out: Path) -> list[Path]:
    """Write the PNGs, ``report.csv`` and ``report.md`` into ``out`` (each atomically); return their paths."""
    from elmo_lab.report.plots import PLOT_FILES, make_plots

    plots = make_plots(report, out)
    for name in PLOT_FILES:  # a plot an earlier report made that no longer applies
        if out / name not in plots:
            (out / name).unlink(missing_ok=True)
    csv_path = _write_csv(out / "report.csv", *numeric_table(report))
    md_path = _write_text(out / "report.md", render_markdown(report, plots))
    return [md_path, csv_path, *plots]


def log_to_wandb(report: Report, out: Path, files: list[Path]) -> None:
    """Log the table and the plots as one wandb run in ``out`` (offline unless ``WANDB_MODE`` says otherwise)."""
    os.environ.setdefault("WANDB_MODE", "offline")
    try:
        import wandb
    except ImportError:
        raise ReportError("--wandb: the wandb package is not installed") from None
    header, rows = numeric_table(report)
    run = wandb.init(project=os.environ.get("WANDB_PROJECT", "elmo_lab"), dir=str(out), job_type="report",
                     name=f"report-{out.resolve().name}",
                     config={"sources": report.sources, "metric": report.task_metric})
    try:
        images = {f"report/{p.stem}": wandb.Image(str(p)) for p in files if p.suffix == ".png"}
        run.log({"report/table": wandb.Table(columns=header, data=rows), **images})
    finally:
        run.finish()


def run_report(args: argparse.Namespace) -> None:
    """Build the report, write it into ``--out`` (default: the first SWEEP_DIR), print the table."""
    report = build_report(args.sweep_dirs, args.metric, aso=getattr(args, "aso", False))
    first = Path(args.sweep_dirs[0])
    out = Path(args.out) if args.out else (first.parent if first.is_file() else first)
    if out.exists() and not out.is_dir():
        raise ReportError(f"--out {out}: exists and is not a folder")
    files = write_report(report, out)
    print(render_terminal(report, files), end="")
    if args.wandb:
        log_to_wandb(report, out, files)


def add_report_command(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], None]:
    """Declare ``report``'s arguments on ``parser``; return its runner."""
    parser.add_argument("sweep_dirs", nargs="+", metavar="SWEEP_DIR",
                        help="a Hydra multirun folder, run folders or results.json files (searched recursively)")
    parser.add_argument("--out", help="where report.md, report.csv and the PNGs go (default: the first SWEEP_DIR)")
    parser.add_argument("--metric", action="append",
                        help="the metric plotted and compared with the none baseline, e.g. test/acc (default: the "
                        "test side of the runs' objective, e.g. val/f1 -> test/f1, else test/acc, else the first "
                        "test metric); repeated: the first is compared, all are shown in the main table")
    parser.add_argument("--aso", action="store_true",
                        help="also compute Almost Stochastic Order's eps_min per comparison (deepsig; ~10 s each)")
    parser.add_argument("--wandb", action="store_true",
                        help="also log the table and plots as one wandb run in --out (offline unless WANDB_MODE)")
    return run_report
