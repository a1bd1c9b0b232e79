"""Collect all DVC experiments into ``reports/``: a Markdown table, a heatmap, the seed summary.

    python -m scripts.report            # or: make report
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from distillation.atomic import atomic_output
from distillation.cli import run_stage
from distillation.report import experiments_table, markdown_report, save_heatmap, seed_summary

REPORTS = Path("reports")


def build_report(exp_show: list[dict], directory: Path = REPORTS) -> Path:
    """Write ``report.md`` and ``student_accuracy_heatmap.png`` into ``directory``; return the Markdown path."""
    table = experiments_table(exp_show)
    if table.empty:
        raise ValueError("dvc exp show lists no run with metrics: run `dvc repro` or an experiment first")
    markdown = markdown_report(table, seed_summary(table))
    save_heatmap(table, directory / "student_accuracy_heatmap.png")
    path = directory / "report.md"
    with atomic_output(path) as temporary:
        temporary.write_text(markdown + "\n![student accuracy over T and λ](student_accuracy_heatmap.png)\n")
    return path


def main() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "dvc", "exp", "show", "--json"], capture_output=True, text=True, check=False
    )
    if shown.returncode != 0:
        raise ValueError(f"dvc exp show failed: {shown.stderr.strip().splitlines()[-1] if shown.stderr.strip() else shown.returncode}")
    path = build_report(json.loads(shown.stdout))
    print(f"wrote {path}")


if __name__ == "__main__":
    run_stage(main)
