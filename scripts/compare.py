"""Compare every distillation method honestly, through DVC's queue (``make compare``).

    python -m scripts.compare [--source PATH] [--config comparison.yaml] [--jobs 2]

1. **Selection**: queues each method's grid (``comparison.yaml``) at the selection replicates,
   with the first teacher, and chooses each method's setting on **val** accuracy.
2. **Reported runs**: queues the chosen settings afresh over replicates 0..R−1 and, for methods
   that read the teacher, teachers 0..T−1. The first run of each teacher goes ahead of the rest
   and trains it; every later run restores it (and its baseline) from DVC's run-cache.
3. Writes the record (``reports/comparison-<source>.json``: the choice, every run and its
   figures) and the reports from it (``scripts.report``).

A config whose ``params`` lists values (``augment.views: [0, 4, 16]``) runs one such comparison
per value, each with its own record (``comparison-<source>-augment.views=4.json``).

The protocol and its statistics are in :mod:`distillation.comparison`. Runs already present
(same identity, replicate and teacher; see :mod:`distillation.experiments`) are not queued again,
so an interrupted comparison resumes where it stopped. ``--source`` sets ``data.source`` for every
run (a path is made absolute, since queued runs happen in temporary copies of the workspace).
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from distillation.cli import run_stage
from distillation.comparison import (
    VIEWS_KEY, choose_settings, comparison_record, find_run, fixed_combinations, load_comparison, reported_runs,
    save_record, selection_runs,
)
from distillation.dvc_queue import QUEUE_ATTEMPTS, queue_experiment, run_dvc, run_queue, set_arguments
from distillation.experiments import read_experiments, source_label
from distillation.params import load_params
from scripts.report import REPORTS, write_reports


def queue_and_run(runs: list[dict[str, Any]], jobs: int) -> None:
    """Queue ``runs`` (each with its ``-S`` overrides) and run them all."""
    names = [queue_experiment(*set_arguments(run["overrides"])) for run in runs]
    if names:
        run_queue(names, jobs)


def run_missing(missing: Callable[[], list[dict[str, Any]]], jobs: int, trained_teachers: set[int]) -> int:
    """Run what ``missing()`` lists until it lists nothing; return how many were missing at first.

    ``missing`` is asked again after each pass, so runs that DVC's queue lost are queued again
    (up to ``QUEUE_ATTEMPTS`` passes). The first run of each teacher not in ``trained_teachers``
    goes before the others of that teacher (beside the runs of teachers already trained): it
    trains the teacher, which the others then restore from the run-cache.
    """
    todo = missing()
    count = len(todo)
    for _ in range(QUEUE_ATTEMPTS):
        if not todo:
            return count
        leaders: dict[int, dict[str, Any]] = {}
        for run in todo:
            teacher = run["overrides"]["teacher.replicate"]
            if teacher not in trained_teachers:
                leaders.setdefault(teacher, run)
        if leaders:
            # The leaders first, then every run whose teacher is trained already, so no worker
            # waits while a teacher trains and no run needs a teacher that is still training.
            first = [*leaders.values(), *(run for run in todo if run["overrides"]["teacher.replicate"] in trained_teachers)]
            queue_and_run(first, jobs)
            trained_teachers |= set(leaders)
            todo = [run for run in todo if all(run is not other for other in first)]
        queue_and_run(todo, jobs)
        todo = missing()
    if todo:
        raise ValueError(f"{len(todo)} runs still missing after {QUEUE_ATTEMPTS} passes through DVC's queue; see `dvc queue status`")
    return count


def pending(runs: list[dict[str, Any]]) -> Callable[[], list[dict[str, Any]]]:
    """A ``missing()`` for :func:`run_missing`: the runs of ``runs`` that no experiment is yet."""
    def missing() -> list[dict[str, Any]]:
        table = read_experiments()
        return [run for run in runs if find_run(table, run) is None]
    return missing


def found(runs: list[dict[str, Any]], table: pd.DataFrame) -> list[dict[str, Any]]:
    """Each planned run with its experiment's figures."""
    return [{**run, **find_run(table, run), "teacher_replicate": run["teacher_replicate"]} for run in runs]


def compare_one(config: dict[str, Any], params: dict[str, Any], common: dict[str, Any], effective: str,
                fixed: dict[str, Any], jobs: int, trained: set[int]) -> Path:
    """One comparison (every run also sets ``fixed``); write its record and return the record's path.

    ``trained``: the teachers whose upstream stages need not run again for these runs.
    """
    common = {**common, **fixed}
    selection = selection_runs(config, params, common)
    ran = run_missing(pending(selection), jobs, set(trained))
    print(f"selection{_label(fixed)}: {ran} new runs of {len(selection)} ({len(config['selection_replicates'])} per grid point)", flush=True)

    selection = found(selection, read_experiments())
    labels = choose_settings(pd.DataFrame(selection))
    points = {(run["method"], run["setting"]): run["overrides"] for run in selection}
    chosen = {method: {"setting": setting, "point": {key: value for key, value in points[(method, setting)].items()
                                                      if key not in ("replicate", "teacher.replicate") and key not in fixed}}
              for method, setting in labels.items()}
    reported = reported_runs(config, params, common, chosen)
    ran = run_missing(pending(reported), jobs, set(trained) | {0})
    print(f"reported{_label(fixed)}: {ran} new runs of {len(reported)}; chosen on val: {labels}", flush=True)
    path = save_record(comparison_record(config, effective, chosen, selection, found(reported, read_experiments()), fixed), REPORTS)
    print(f"wrote {path}", flush=True)
    return path


def _label(fixed: dict[str, Any]) -> str:
    return "".join(f" {key}={value}" for key, value in fixed.items())


def compare(config_path: Path, source: str | None, jobs: int) -> list[Path]:
    """Run every comparison of the config on ``source`` (params.yaml's when None); return the records' paths."""
    started = time.perf_counter()
    params = load_params()
    common = {"data.source": source} if source else {}
    effective = source or params["data"]["source"]
    config = load_comparison(config_path, {**params, "data": {**params["data"], "source": effective}})

    if not source:
        # On a fresh clone the committed dvc.lock names a teacher that the local cache lacks, and
        # DVC then re-runs that stage in every queued experiment instead of using its run-cache.
        # Bring the upstream stages up to date here, once; queued runs carry the updated lock.
        run_dvc("repro", "soft_targets", "train_baseline", capture=False)
    paths = []
    for fixed in fixed_combinations(config):
        # A teacher trained on this source already is restored from the run-cache; but each first
        # run with new views runs the teacher over them, so it goes ahead of that teacher's others.
        # On params.yaml's own source the workspace has the first teacher (when it is params.yaml's).
        with_views = bool(fixed.get(VIEWS_KEY, params["augment"]["views"]))
        trained = set() if source or with_views or params["teacher"]["replicate"] != 0 else {0}
        paths.append(compare_one(config, params, common, effective, fixed, jobs, trained))
    write_reports(read_experiments())
    print(f"comparison on {source_label(effective)} took {(time.perf_counter() - started) / 60:.1f} min", flush=True)
    return paths


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
