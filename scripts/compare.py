"""Compare every distillation method honestly, through DVC's queue (``make compare``).

    python -m scripts.compare [--source PATH|emnist|emnist-byclass-letters] [--config comparison.yaml] [--jobs 2] [--no-run]

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
(same identity, replicate and teacher; see :mod:`distillation.experiments.table`) are not queued again,
so an interrupted comparison resumes where it stopped. ``--source`` sets ``data.source`` for every
run (a path is made absolute, since queued runs happen in temporary copies of the workspace).
"""
from __future__ import annotations

import argparse
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from distillation.data.byclass_letters import SOURCE_NAME as BYCLASS_LETTERS
from distillation.cli import run_stage
from distillation.config.identity import VIEWS_KEY
from distillation.comparison.config import ComparisonConfig, load_comparison
from distillation.comparison.plan import BASELINE, choice_label, choose_baseline, baseline_matches, choose_settings, find_run, reported_runs, selection_runs
from distillation.comparison.records import comparison_record, load_progress, load_shared_runs, load_sittings, record_complete, record_path, save_record
from distillation.experiments.queue import QUEUE_ATTEMPTS, queue_experiment, run_dvc, run_queue, set_arguments
from distillation.experiments.table import read_experiments, read_test_correct, source_label
from distillation.machine import machine_kind
from distillation.config.params import Params, load_params
from scripts.report import REPORTS, write_reports


# A comparison reads the models' metrics only: its runs stop at the MLPs (and what they need),
# leaving out `evaluate` and the exports, which cost about a minute a run on the real letters.
COMPARED_STAGES = ("train_baseline", "train_student")


def queue_and_run(runs: list[dict[str, Any]], jobs: int) -> None:
    """Queue ``runs`` (each with its ``-S`` overrides, up to ``COMPARED_STAGES``) and run them all."""
    names = [queue_experiment(*set_arguments(run["overrides"]), *COMPARED_STAGES) for run in runs]
    if names:
        run_queue(names, jobs)


def upstream(run: dict[str, Any]) -> tuple[int, int]:
    """What a run needs trained before its student: its teacher and that teacher's outputs on its views."""
    return run["overrides"]["teacher.replicate"], run.get("views") or 0


@dataclass
class Built:
    """What this clone's run-cache holds for the runs to come: teachers, and (teacher, views) outputs.

    Kept across the passes of one comparison, since a sitting that resumes a record has trained
    nothing yet, whatever the record's earlier sittings trained in their own clones.
    """
    teachers: set[int] = field(default_factory=set)
    views: set[tuple[int, int]] = field(default_factory=set)


def run_missing(missing: Callable[[], list[dict[str, Any]]], jobs: int, built: Built,
                progress: Callable[[], None] = lambda: None) -> int:
    """Run what ``missing()`` lists until it lists nothing; return how many were missing at first.

    ``missing`` is asked again after each pass, so runs that DVC's queue lost are queued again
    (up to ``QUEUE_ATTEMPTS`` passes). Runs go in batches: a run whose teacher (and, with views,
    that teacher's outputs on its number of views) is ready goes at once; of the others, one run
    per untrained teacher, or per untried (teacher, views), leads and trains it beside them, and
    the rest of its kind wait for the next batch and restore it from the run-cache, so nothing
    upstream is trained twice at once. At most ``jobs`` runs lead a batch; a leader beyond them
    goes with the next batch, beside the runs that the first leaders made ready.
    ``built`` learns what each batch trained. ``progress`` is called after each batch.
    """
    todo = missing()
    count = len(todo)
    for _ in range(QUEUE_ATTEMPTS):
        while todo:
            leaders: dict[tuple, dict[str, Any]] = {}
            ready = []
            for run in todo:
                teacher, number = upstream(run)
                if teacher not in built.teachers:
                    leaders.setdefault(("teacher", teacher), run)
                elif number and (teacher, number) not in built.views:
                    leaders.setdefault(("views", teacher, number), run)
                else:
                    ready.append(run)
            led = list(leaders.values())[:max(jobs, 1)]
            batch = [*led, *ready]
            queue_and_run(batch, jobs)
            built.teachers |= {upstream(run)[0] for run in led}
            built.views |= {upstream(run) for run in led}
            todo = [run for run in todo if all(run is not other for other in batch)]
            progress()
        todo = missing()
        if not todo:
            return count
    raise ValueError(f"{len(todo)} runs still missing after {QUEUE_ATTEMPTS} passes through DVC's queue; see `dvc queue status`")


def pending(runs: list[dict[str, Any]], recorded: pd.DataFrame) -> Callable[[], list[dict[str, Any]]]:
    """A ``missing()`` for :func:`run_missing`: the runs of ``runs`` that neither an experiment nor
    ``recorded`` (the runs of an interrupted comparison's record) holds yet."""
    def missing() -> list[dict[str, Any]]:
        table = known(recorded)
        return [run for run in runs if find_run(table, run) is None]
    return missing


def known(recorded: pd.DataFrame) -> pd.DataFrame:
    """This repository's experiments, then the runs of the record being resumed (an experiment wins)."""
    table = read_experiments()
    return pd.concat([recorded, table], ignore_index=True) if not recorded.empty else table


def found(runs: list[dict[str, Any]], table: pd.DataFrame) -> list[dict[str, Any]]:
    """Each planned run that ``table`` holds, with its figures and the kind of machine it ran on
    (a resumed record's own, else this one's). What the plan says of a run (its recipe, views,
    baseline recipe, pairing keys) wins over the table's: an experiment's row has no such
    columns, and beside a resumed record's rows they would read as NaN."""
    rows = [{**hit, **run} for run in runs if (hit := find_run(table, run)) is not None]
    return [{**row, "machine": row["machine"] if isinstance(row.get("machine"), str) else MACHINE} for row in rows]


MACHINE = machine_kind()


def with_test_correct(rows: list[dict[str, Any]], kept: dict[tuple[str, str], dict[str, Any] | None]) -> list[dict[str, Any]]:
    """Each reported run with which test images its student and baseline got right (``<model>_correct``),
    read from its experiment once (``kept``: what earlier batches read); a resumed record's runs have theirs."""
    for row in rows:
        for model in ("student", "baseline"):
            column = f"{model}_correct"
            if not isinstance(row.get(column), dict) and isinstance(row.get("rev"), str):
                if (row["rev"], model) not in kept:
                    kept[(row["rev"], model)] = read_test_correct(row["rev"], model)
                row[column] = kept[(row["rev"], model)]
    return rows


def compare_one(config: ComparisonConfig, params: Params, common: dict[str, Any], effective: str,
                fixed: dict[str, Any], jobs: int, trained: set[int], run: bool = True,
                shared: pd.DataFrame | None = None,
                test_correct: dict[tuple[str, str], dict[str, Any] | None] | None = None) -> Path:
    """One comparison (every run also sets ``fixed``); write its record and return the record's path.

    ``trained``: the teachers whose upstream stages need not run again for these runs (the
    selection's and reported runs' batches add what they train). ``shared``: the runs of the
    study's other records (:func:`load_shared_runs`); a run found among them is not run again.
    ``test_correct``: the per-image bits read so far (:func:`with_test_correct`), kept across a study's records. The record
    is written after every batch, marked incomplete until the end: a comparison stopped anywhere
    resumes from it, in this clone or in another that has the record. ``run`` false queues
    nothing: the record then holds the runs finished so far (complete only if all are).
    """
    common = {**common, **fixed}
    path = record_path(REPORTS, effective, fixed, config.name)
    recorded = pd.concat([load_progress(path), shared if shared is not None else pd.DataFrame()], ignore_index=True)
    selection = selection_runs(config, params, common)
    chosen: dict[str, dict[str, Any]] = {}
    reported: list[dict[str, Any]] = []
    earlier = load_sittings(path)
    # This sitting's runs: those found that no record held when it began.
    started, held = time.time(), set(recorded["experiment"]) if "experiment" in recorded else set()
    built = Built(teachers=set(trained))
    test_correct = {} if test_correct is None else test_correct

    def save(complete: bool = False) -> None:
        table = known(recorded)
        selected, reported_found = found(selection, table), with_test_correct(found(reported, table), test_correct)
        sitting = {"machine": MACHINE, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                   "hours": round((time.time() - started) / 3600, 3),
                   "runs": sum(row["experiment"] not in held for row in [*selected, *reported_found])}
        record = comparison_record(config, effective, chosen, selected, reported_found, fixed, complete,
                                   sittings=earlier + [sitting] if run else earlier)
        save_record(record, REPORTS)

    if run:
        ran = saving_on_interrupt(save, lambda: run_missing(pending(selection, recorded), jobs, built, save))
        print(f"selection{_label(fixed)}: {ran} new runs of {len(selection)} ({len(config.selection_replicates)} per grid point)", flush=True)
    done = pd.DataFrame(found(selection, known(recorded)))
    if len(done) < len(selection):  # only without running: the choice waits for every selection run
        save()
        print(f"selection{_label(fixed)}: {len(done)} of {len(selection)} runs finished; wrote {path} (incomplete)", flush=True)
        return path
    labels = choose_settings(done)
    by_label = {(run["method"], choice_label(run["setting"], run["recipe"])): run for run in selection}
    for method, label in labels.items():
        winner = by_label[(method, label)]
        chosen[method] = {"setting": winner["setting"], "recipe": winner["recipe"],
                          "point": {key: value for key, value in winner["overrides"].items()
                                    if key not in ("replicate", "teacher.replicate") and key not in fixed
                                    and key not in common and not key.startswith("baseline.")}}
    baseline = choose_baseline(done, config.baseline_points())
    if baseline is not None:
        point = next(point for point in config.baseline_points() if baseline_matches(baseline, point))
        chosen[BASELINE] = {"setting": ", ".join(f"{key}={value}" for key, value in point.items()), "point": point}
        common = {**common, **point}
    reported = reported_runs(config, params, common, {method: choice for method, choice in chosen.items() if method != BASELINE})
    missing = (saving_on_interrupt(save, lambda: run_missing(pending(reported, recorded), jobs, built, save))
               if run else len(pending(reported, recorded)()))
    print(f"reported{_label(fixed)}: {missing} {'new runs' if run else 'runs still to run'} of {len(reported)}; "
          f"chosen on val: {labels}" + (f", baseline {chosen[BASELINE]['setting']}" if BASELINE in chosen else ""), flush=True)
    complete = run or missing == 0
    save(complete=complete)
    print(f"wrote {path}" + ("" if complete else " (incomplete)"), flush=True)
    return path


def saving_on_interrupt(save: Callable[[], None], work: Callable[[], int]) -> int:
    """``work()``; stopped by Ctrl-C or ``kill`` (SIGTERM), the record is written first, with the
    runs finished so far and this sitting's time. Runs already handed to DVC's queue go on
    (``dvc queue kill`` stops them); the next ``make compare`` finds them by identity."""
    try:
        return work()
    except KeyboardInterrupt:
        save()
        print("stopped: wrote the record of the runs finished so far (incomplete)", flush=True)
        raise


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _label(fixed: dict[str, Any]) -> str:
    return "".join(f" {key}={value}" for key, value in fixed.items())


def check_written_down(config_path: Path) -> None:
    """A study's grid is written down before its first run: a config of this repository must be
    committed as it is (a grid edited after results were seen shows in its history)."""
    status = subprocess.run(["git", "status", "--porcelain", "--", str(config_path)], capture_output=True, text=True)
    if status.returncode == 0 and status.stdout.strip():
        raise ValueError(f"{config_path}: uncommitted changes; commit it first (git add {config_path} && git commit): "
                         "a study's grid is written down before its first run")


def compare(config_path: Path, source: str | None, jobs: int, run: bool = True) -> list[Path]:
    """Run every comparison of the config on ``source`` (params.yaml's when None); return the records' paths.

    ``run`` false: queue nothing, write each record of the runs finished so far (see :func:`compare_one`).
    """
    started = time.perf_counter()
    if run:
        check_written_down(config_path)
    params = load_params()
    common = {"data.source": source} if source else {}
    if source == BYCLASS_LETTERS:
        # queued runs happen in copies of the workspace without its git-ignored files
        common["data.emnist_byclass.path"] = str(Path(params.data.emnist_byclass.path).resolve())
    effective = source or params.data.source
    config = load_comparison(config_path, params.changed(data={"source": effective}))

    if not source and run:
        # On a fresh clone the committed dvc.lock names a teacher that the local cache lacks, and
        # DVC then re-runs that stage in every queued experiment instead of using its run-cache.
        # Bring the upstream stages up to date here, once; queued runs carry the updated lock.
        run_dvc("repro", "soft_targets", "train_baseline", capture=False)
    combinations = config.fixed_combinations()
    test_correct: dict[tuple[str, str], dict[str, Any] | None] = {}  # (rev, model) → its bits, read once
    paths = [record_path(REPORTS, effective, fixed, config.name) for fixed in combinations]
    # A study (a config of several records) is under way while one of its records is missing or
    # unfinished: its finished records are kept, and a run that several records plan (one that reads
    # none of the params they differ in) runs once for all. Once every record is finished, `make
    # compare` runs the study again from nothing, like a comparison of one record.
    finished = [record_complete(path) for path in paths]
    again = all(finished)
    stale = set(paths) if again else set()
    for fixed, path, done in zip(combinations, paths, finished):
        if done and not again:
            print(f"kept {path}: finished; its runs are taken where the study's other records plan them", flush=True)
            continue
        # A teacher trained on this source already is restored from the run-cache; but each first
        # run with new views runs the teacher over them, so it goes ahead of that teacher's others.
        # On params.yaml's own source the workspace has the first teacher (when it is params.yaml's).
        with_views = bool(fixed.get(VIEWS_KEY, params.augment.views))
        trained = set() if source or with_views or params.teacher.replicate != 0 else {0}
        shared = load_shared_runs([other for other in paths if other != path and other not in stale])
        compare_one(config, params, common, effective, fixed, jobs, trained, run, shared, test_correct)
        stale.discard(path)
    write_reports(read_experiments())
    print(f"comparison on {source_label(effective)} took {(time.perf_counter() - started) / 60:.1f} min", flush=True)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", help="data.source for every run (default: params.yaml's)")
    parser.add_argument("--config", type=Path, default=Path("comparison.yaml"))
    parser.add_argument("--jobs", type=int, default=2, help="queued experiments run at once")
    parser.add_argument("--no-run", action="store_true",
                        help="queue nothing: write the records of the runs finished so far (commit one, and "
                             "`make compare` resumes from it in any clone)")
    arguments = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    source = arguments.source
    if source and source not in ("synthetic", "emnist", BYCLASS_LETTERS):
        if not Path(source).is_file():
            raise ValueError(f"--source '{source}': no such file")
        source = str(Path(source).resolve())
    try:
        compare(arguments.config, source, arguments.jobs, run=not arguments.no_run)
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    run_stage(main)
