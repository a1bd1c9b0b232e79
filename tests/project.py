"""Helpers that run the stages as DVC does: in a scratch copy of the project, as subprocesses."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.scratch import copy_project, environment, init_git_repository, merge

# Small enough that a whole `dvc repro` takes well under a minute.
TINY_PARAMS = {
    "data": {"synthetic": {"train_per_class": 16, "test_per_class": 4}},
    "teacher": {"epochs": 2},
    "baseline": {"epochs": 2, "hidden_units": 64},
    "distill": {"epochs": 2},
}


WALL_CLOCK_KEYS = ("train_seconds", "train_images_per_second")


def without_timings(metrics: dict) -> dict:
    """A model's metrics without the wall-clock figures, which no two runs share."""
    return {key: value for key, value in metrics.items() if key not in WALL_CLOCK_KEYS}


def scratch_project(directory: Path, params_changes: dict | None = None) -> Path:
    """Copy the pipeline's code and config into ``directory`` with tiny params."""
    return copy_project(directory, merge(TINY_PARAMS, params_changes or {}))


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=environment(), capture_output=True, text=True, timeout=600)


def run_stage(name: str, cwd: Path) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", f"stages.{name}"], cwd)


def dvc(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "dvc", *arguments], cwd)


def start_dvc(*arguments: str, cwd: Path) -> subprocess.Popen:
    """Start DVC in its own process group (so the whole tree can be killed), reading its output."""
    return subprocess.Popen(
        [sys.executable, "-m", "dvc", *arguments], cwd=cwd, env=environment(), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )


def git(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return run(["git", *arguments], cwd)


def scratch_git_project(directory: Path, params_changes: dict | None = None) -> Path:
    """A scratch project that is also a git repository with one commit: `dvc exp` needs one."""
    scratch_project(directory, params_changes)
    init_git_repository(directory)
    assert dvc("config", "core.autostage", "true", cwd=directory).returncode == 0
    return directory
