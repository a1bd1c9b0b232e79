"""One worker of a sweep: take trials from an Optuna study until it is done, each one a DVC experiment.

    python -m scripts.sweep --space sweeps/kd.yaml                                # SQLite, this machine
    python -m scripts.sweep --space sweeps/kd.yaml --storage postgresql://kd@db:5432/sweeps
    make sweep SPACE=sweeps/kd.yaml STORAGE=postgresql://kd@db:5432/sweeps

Start it on as many hosts (or as many times on one host) as you like, with the same space file
and storage: they share the study's trials, and a host may join or leave at any time. The study
is named after the space file unless ``--study`` says otherwise.

Before its first trial, the worker pulls the committed pipeline's data and the run-cache from the
DVC remote (``dvc pull --run-cache``), so a stage any host already ran (the teacher, a baseline)
is restored, not retrained. After each trial it pushes the experiment to the git remote and its
outputs and the run-cache to the DVC remote, before the trial counts as complete; ``make report``
on any clone then pulls every pushed experiment first.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from distillation.cli import run_stage
from distillation.experiments.queue import has_git_remote, run_dvc
from distillation.config.params import load_params
from distillation.experiments.sweeps import (DATABASE_WAIT_SECONDS, DEFAULT_STORAGE, HEARTBEAT_SECONDS, STORAGE_VARIABLE, check_study_name, load_search_space, open_storage, open_study,
                                 quiet_optuna, run_worker, shown)


def git_remote_or_none(name: str) -> str | None:
    """``name`` if this clone has that git remote; else None (a one-machine sweep keeps its experiments)."""
    if not name:
        return None
    if not has_git_remote(name):
        print(f"note: no git remote '{name}': the experiments stay in this clone", file=sys.stderr)
        return None
    return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", required=True, help="the sweep file, e.g. sweeps/kd.yaml")
    parser.add_argument("--storage", default=os.environ.get(STORAGE_VARIABLE) or DEFAULT_STORAGE,
                        help=f"the study's database URL (default: ${STORAGE_VARIABLE}, as `make sweep` passes it, else {DEFAULT_STORAGE})")
    parser.add_argument("--study", help="the study's name (default: the space file's name)")
    parser.add_argument("--git-remote", default="origin", help="where experiments are pushed ('' for nowhere)")
    parser.add_argument("--heartbeat", type=int, default=HEARTBEAT_SECONDS,
                        help="seconds between a running trial's heartbeats; 3 missed and another worker retries it")
    parser.add_argument("--database-wait", type=float, default=DATABASE_WAIT_SECONDS,
                        help=f"seconds to wait for a study database that went away, then exit (default {DATABASE_WAIT_SECONDS})")
    arguments = parser.parse_args()
    if arguments.heartbeat < 1:
        raise ValueError(f"--heartbeat: at least 1 second, got {arguments.heartbeat}")
    if arguments.database_wait < 0:
        raise ValueError(f"--database-wait: 0 seconds or more, got {arguments.database_wait:g}")
    # Everything is checked before any work: the params, the space file, the database.
    space = load_search_space(arguments.space, load_params())
    name = check_study_name(arguments.study or Path(arguments.space).stem)
    quiet_optuna()
    print(f"sweep {name}: storage {shown(arguments.storage)}", flush=True)
    storage = open_storage(arguments.storage, arguments.heartbeat, arguments.database_wait)
    study = open_study(name, storage, space, shown(arguments.storage))
    git_remote = git_remote_or_none(arguments.git_remote)
    if run_dvc("remote", "list").strip():
        run_dvc("pull", "--run-cache", "--allow-missing")
    ran = run_worker(study, space, git_remote)
    complete = [trial for trial in study.get_trials(deepcopy=False) if trial.value is not None]
    best = max(complete, key=lambda trial: trial.value) if complete else None
    print(f"study {study.study_name}: this worker ran {len(ran)} trials ({' '.join(ran) or 'none'}); "
          f"{len(complete)} complete" + (f", best val {best.value:.4f}: {best.user_attrs.get('experiment')}" if best else ""))


if __name__ == "__main__":
    run_stage(main)
