"""Collect the DVC experiments into ``reports/``: the method comparison, the runs, the KD sweep.

    python -m scripts.report         # or: make report (this clone's experiments; offline)
    python -m scripts.report --pull  # or: make report PULL=1 (every experiment pushed to origin first)

With ``--pull`` it first pulls every experiment pushed to the git remote ``origin`` (``dvc exp pull
--all-commits``), so a report on any clone covers every host's sweep; without it, nothing is
fetched and no remote is needed.

Writes ``methods.md`` and one gain chart per data source from the records that ``make compare``
left (``reports/comparison-*.json``: exactly the comparison's runs and choice, checked again
here), and ``report.md`` with every *other* experiment, the KD sweep over every param that
varies, and its heatmap (``student_accuracy_heatmap.png``).
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd

from distillation.atomic import atomic_output
from distillation.cli import run_stage
from distillation.experiments.queue import has_git_remote, run_dvc
from distillation.comparison.calibration import CALIBRATION, load_calibration
from distillation.comparison.records import Record
from distillation.comparison.studies import load_studies
from distillation.comparison.studies import views_curve
from distillation.reporting.doc_blocks import documents, render_files
from distillation.reporting.comparison import chart_name, doc_renderers, methods_markdown, save_gain_chart, save_views_chart, views_chart_name
from distillation.experiments.table import read_experiments
from distillation.reporting.metrics_tables import metrics_renderers
from distillation.reporting.experiments import markdown_report, save_heatmap, seed_summary

REPORTS = Path("reports")


def _write_text(path: Path, text: str) -> None:
    with atomic_output(path) as temporary:
        temporary.write_text(text)


def check_recorded_runs(records: list[Record], table: pd.DataFrame) -> None:
    """A recorded run still present among the experiments must have the figures it was recorded with."""
    by_run = {} if table.empty else {(row["experiment"], row["rev"]): row for _, row in table.iterrows()}
    for record in records:
        for run in record.runs:
            present = by_run.get((run["experiment"], run["rev"]))
            if present is None:
                continue  # the record carries its figures; the experiment may live in another clone
            for field in ("teacher", "baseline", "student", "student_val"):
                if not math.isclose(float(present[field]), float(run[field]), abs_tol=1e-9):
                    raise ValueError(f"{record.path}: experiment {run['experiment']} ({run['rev']}) now has "
                                     f"{field} {present[field]}, recorded {run[field]}: run `make compare` again")


def page_renderers(records: list[Record], calibration: pd.DataFrame | None, root: Path) -> dict:
    """Every kind of block the README and docs may hold: from the records and from metrics files below ``root``."""
    return {**doc_renderers(records, calibration), **metrics_renderers(root)}


def write_reports(table: pd.DataFrame, directory: Path = REPORTS) -> list[Path]:
    """Write every report that the records in ``directory`` and the experiments in ``table`` support."""
    records = load_studies(directory)
    if table.empty and not records:
        raise ValueError("dvc exp show lists no run with metrics: run `dvc repro` or an experiment first")
    check_recorded_runs(records, table)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    if records:
        for record in records:
            save_gain_chart(record, directory / chart_name(record))
        curve = views_curve(records)
        for source in ([] if curve.empty else curve["source"].unique()):
            save_views_chart(curve, source, directory / views_chart_name(source))
        calibration = load_calibration(directory / CALIBRATION)
        _write_text(directory / "methods.md", methods_markdown(records, calibration))
        written.append(directory / "methods.md")
        # The README's and docs' result tables, where these are the project's own reports.
        pages = documents(Path(".")) if directory == REPORTS else []
        written += render_files(pages, page_renderers(records, calibration, Path(".")))
    recorded = {(run["experiment"], run["rev"]) for record in records for run in record.runs}
    others = table[[key not in recorded for key in zip(table["experiment"], table["rev"])]] if not table.empty else table
    markdown = markdown_report(others, seed_summary(others), compared=sum(len(record.runs) for record in records))
    if save_heatmap(others, directory / "student_accuracy_heatmap.png"):
        markdown += "\n![KD student accuracy over T and λ](student_accuracy_heatmap.png)\n"
    _write_text(directory / "report.md", markdown)
    written.append(directory / "report.md")
    return written


def pull_experiments(git_remote: str) -> bool:
    """``dvc exp pull --all-commits`` from ``git_remote`` if the repository has it; False if not."""
    if not has_git_remote(git_remote):
        return False
    try:
        run_dvc("exp", "pull", "--all-commits", git_remote)
    except ValueError as error:
        raise ValueError(f"{error}; run without --pull (make report without PULL=1) to report this clone's experiments only") from None
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pull", action="store_true", help="first pull every experiment pushed to --git-remote")
    parser.add_argument("--git-remote", default="origin", help="the remote --pull reads (origin)")
    parser.add_argument("--no-pull", action="store_true", help="the default, kept for scripts that name it")
    arguments = parser.parse_args()
    if arguments.pull and arguments.no_pull:
        raise ValueError("--pull and --no-pull: choose one")
    if arguments.pull:
        if not pull_experiments(arguments.git_remote):
            raise ValueError(f"--pull: this repository has no git remote {arguments.git_remote!r}; run without --pull")
        print(f"pulled every experiment pushed to {arguments.git_remote}")
    for path in write_reports(read_experiments()):
        print(f"wrote {path}")


if __name__ == "__main__":
    run_stage(main)
