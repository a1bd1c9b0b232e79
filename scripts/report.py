"""Collect all DVC experiments into ``reports/``: the runs, the KD sweep, and the method comparison.

    python -m scripts.report            # or: make report
    python -m scripts.report --no-pull  # only this clone's experiments

First pulls every experiment pushed to the git remote ``origin`` (``dvc exp pull --all-commits``),
when the repository has that remote, so a report on any clone covers every host's sweep.

Writes ``report.md`` (every run, ranked by val accuracy; KD's gain over replicates),
``student_accuracy_heatmap.png`` (KD over T × λ), and, where ``make compare`` has run,
``methods.md`` with one gain chart per data source.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from distillation.atomic import atomic_output
from distillation.cli import run_stage
from distillation.dvc_queue import run_dvc
from distillation.comparison import chart_name, choose_settings, methods_markdown, save_gain_chart, summarise_methods
from distillation.report import experiments_table, markdown_report, save_heatmap, seed_summary

REPORTS = Path("reports")


def _write_text(path: Path, text: str) -> None:
    with atomic_output(path) as temporary:
        temporary.write_text(text)


def write_reports(table: pd.DataFrame, directory: Path = REPORTS) -> list[Path]:
    """Write every report the experiments in ``table`` support; return the Markdown paths."""
    if table.empty:
        raise ValueError("dvc exp show lists no run with metrics: run `dvc repro` or an experiment first")
    directory.mkdir(parents=True, exist_ok=True)
    markdown = markdown_report(table, seed_summary(table))
    if save_heatmap(table, directory / "student_accuracy_heatmap.png"):
        markdown += "\n![KD student accuracy over T and λ](student_accuracy_heatmap.png)\n"
    _write_text(directory / "report.md", markdown)
    written = [directory / "report.md"]

    summaries, teacher_test = {}, {}
    for source, rows in table.groupby("source"):
        chosen = choose_settings(rows, source)
        summary = summarise_methods(rows, source, chosen)
        # A comparison needs several methods and replicates; a lone run or sweep is not one.
        if len(chosen) >= 2 and summary["replicates"].max() >= 2:
            summaries[source], teacher_test[source] = summary, float(rows["teacher"].iloc[0])
            save_gain_chart(summary, source, directory / chart_name(source))
    if summaries:
        _write_text(directory / "methods.md", methods_markdown(summaries, teacher_test))
        written.append(directory / "methods.md")
    return written


def pull_experiments(git_remote: str) -> bool:
    """``dvc exp pull --all-commits`` from ``git_remote`` if the repository has it; False if not."""
    remotes = subprocess.run(["git", "remote"], capture_output=True, text=True, check=False).stdout.split()
    if git_remote not in remotes:
        return False
    pulled = subprocess.run([sys.executable, "-m", "dvc", "exp", "pull", "--all-commits", git_remote],
                            capture_output=True, text=True, check=False)
    if pulled.returncode != 0:
        last = (pulled.stderr.strip().splitlines() or [f"exit {pulled.returncode}"])[-1]
        raise ValueError(f"dvc exp pull {git_remote} failed ({last}); run with --no-pull to report local experiments only")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--git-remote", default="origin", help="pull every experiment pushed there first")
    parser.add_argument("--no-pull", action="store_true", help="report only the experiments of this clone")
    arguments = parser.parse_args()
    if not arguments.no_pull and pull_experiments(arguments.git_remote):
        print(f"pulled every experiment pushed to {arguments.git_remote}")
    for path in write_reports(experiments_table(json.loads(run_dvc("exp", "show", "--json")))):
        print(f"wrote {path}")


if __name__ == "__main__":
    run_stage(main)
