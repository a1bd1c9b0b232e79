"""Compare every distillation method honestly, through DVC's queue (``make compare``).

    python -m scripts.compare [--source PATH] [--config comparison.yaml] [--jobs 2]

1. Queues each method's grid at replicate 0 (``comparison.yaml``). The teacher is trained once:
   on params.yaml's source in the workspace first; with ``--source``, by a first experiment that
   runs alone, and every later run restores it from DVC's run-cache.
2. Chooses each method's setting on **val** accuracy, then queues the chosen settings over the
   replicates; each experiment also trains the baseline with its replicate (restored from the
   run-cache after the first time), so gains are paired.
3. Writes the reports (``scripts.report``): ``reports/methods.md`` and a gain chart per source.

Runs already present (same source, method, setting and replicate) are not queued again, so an
interrupted comparison resumes where it stopped. ``--source`` sets ``data.source`` for every run
(a path is made absolute, since queued runs happen in temporary copies of the workspace).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from collections.abc import Callable
from typing import Any

import pandas as pd

from distillation.cli import run_stage
from distillation.dvc_queue import QUEUE_ATTEMPTS, queue_experiment, run_dvc, run_queue, set_arguments
from distillation.comparison import choose_settings, grid_points, load_comparison, with_overrides
from distillation.methods import method_settings
from distillation.params import load_params, setting_label
from distillation.report import experiments_table, source_label
from scripts.report import write_reports


def dvc(*arguments: str, capture: bool = False) -> str:
    """DVC with its output shown live (long runs), unless ``capture``."""
    return run_dvc(*arguments, capture=capture)


def experiments() -> pd.DataFrame:
    return experiments_table(json.loads(dvc("exp", "show", "--json", capture=True)))


def already_run(table: pd.DataFrame, source: str, method: str, settings: dict[str, Any], replicate: int) -> bool:
    if table.empty:
        return False
    rows = table[(table["source"] == source) & (table["method"] == method) & (table["replicate"] == replicate)]
    return any(row_settings == settings for row_settings in rows["settings"])


def queue_and_run(runs: list[dict[str, Any]], jobs: int) -> None:
    """Queue ``runs`` (each a ``{dotted.key: value}`` of -S overrides) and run them all."""
    names = [queue_experiment(*set_arguments(overrides)) for overrides in runs]
    if names:
        run_queue(names, jobs)


def run_missing(missing: Callable[[], list[dict[str, Any]]], jobs: int, first_alone: bool = False) -> int:
    """Run what ``missing()`` lists until it lists nothing; return how many were missing at first.

    ``missing`` is asked again after each pass, so runs that DVC's queue lost are queued again
    (up to ``QUEUE_ATTEMPTS`` passes). With ``first_alone`` the first run goes before the others: it
    trains what they all restore from the run-cache (the teacher).
    """
    todo = missing()
    count = len(todo)
    for _ in range(QUEUE_ATTEMPTS):
        if not todo:
            return count
        if first_alone:
            queue_and_run(todo[:1], 1)
            todo, first_alone = todo[1:], False
        queue_and_run(todo, jobs)
        todo = missing()
    if todo:
        raise ValueError(f"{len(todo)} runs still missing after {QUEUE_ATTEMPTS} passes through DVC's queue; see `dvc queue status`")
    return count


def run_settings(params: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """What the run's method will read: shipped values with the grid point's applied."""
    return method_settings(with_overrides(params, overrides)["distill"])


def pending(points: list[dict[str, Any]], params: dict[str, Any], source: str, replicate: int, table: pd.DataFrame, common: dict) -> list[dict]:
    return [
        {**common, **point, "replicate": replicate}
        for point in points
        if not already_run(table, source, point["distill.method"], run_settings(params, point), replicate)
    ]


def compare(config_path: Path, source: str | None, jobs: int) -> None:
    started = time.perf_counter()
    params = load_params()
    common = {"data.source": source} if source else {}
    effective = source_label(source or params["data"]["source"])
    config = load_comparison(config_path, {**params, "data": {**params["data"], **({"source": source} if source else {})}})
    selection = [point for method, grid in config["grids"].items() for point in grid_points(method, grid or {})]

    if not source:
        # On a fresh clone the committed dvc.lock names a teacher that the local cache lacks, and
        # DVC then re-runs that stage in every queued experiment instead of using its run-cache.
        # Bring the upstream stages up to date here, once; queued runs carry the updated lock.
        dvc("repro", "soft_targets", "train_baseline")
    # With another source, the first run alone trains the teacher (and the baseline of replicate
    # 0) on it and the rest reuse them; on params.yaml's own source the workspace has them now.
    ran = run_missing(lambda: pending(selection, params, effective, 0, experiments(), common), jobs, first_alone=bool(source))
    print(f"selection: {ran} new runs of {len(selection)} grid points", flush=True)

    table = experiments()
    # Choose among this grid's points only, whatever other runs the repository holds.
    points = {(p["distill.method"], setting_label(run_settings(params, p))): p for p in selection}
    in_grid = [(method, setting) in points for method, setting in zip(table["method"], table["setting"])]
    chosen = choose_settings(table[in_grid], effective)

    def missing_replicates() -> list[dict[str, Any]]:
        table = experiments()
        return [run for method, setting in chosen.items() for replicate in range(1, config["replicates"])
                for run in pending([points[(method, setting)]], params, effective, replicate, table, common)]

    ran = run_missing(missing_replicates, jobs)
    print(f"replicates: {ran} new runs; chosen on val: {chosen}", flush=True)
    write_reports(experiments_table(json.loads(dvc("exp", "show", "--json", capture=True))))
    print(f"comparison on {effective} took {(time.perf_counter() - started) / 60:.1f} min", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", help="data.source for every run (default: params.yaml's)")
    parser.add_argument("--config", type=Path, default=Path("comparison.yaml"))
    parser.add_argument("--jobs", type=int, default=2, help="queued experiments run at once")
    arguments = parser.parse_args()
    source = arguments.source
    if source and source not in ("synthetic", "emnist"):
        if not Path(source).is_file():
            raise ValueError(f"--source '{source}': no such file")
        source = str(Path(source).resolve())
    compare(arguments.config, source, arguments.jobs)


if __name__ == "__main__":
    run_stage(main)
