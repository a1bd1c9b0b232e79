"""Helpers that run the stages as DVC does: in a scratch copy of the project, as subprocesses."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import PROJECT_ROOT

COPIED = ("dvc.yaml", "params.yaml", "stages", "distillation", "scripts", ".gitignore")

# Small enough that a whole `dvc repro` takes well under a minute.
TINY_PARAMS = {
    "data": {"synthetic": {"train_per_class": 16, "test_per_class": 4}},
    "teacher": {"epochs": 2},
    "baseline": {"epochs": 2, "hidden_units": 64},
    "distill": {"epochs": 2},
}


def merge(base: dict, changes: dict) -> dict:
    merged = dict(base)
    for key, value in changes.items():
        merged[key] = merge(base[key], value) if isinstance(value, dict) else value
    return merged


def scratch_project(directory: Path, params_changes: dict | None = None) -> Path:
    """Copy the pipeline's code and config into ``directory`` with tiny params."""
    for name in COPIED:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, directory / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, directory / name)
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    params = merge(merge(params, TINY_PARAMS), params_changes or {})
    (directory / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return directory


def environment() -> dict[str, str]:
    """This interpreter's bin first on PATH, so DVC's `python -m stages.x` finds our packages."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["DVC_NO_ANALYTICS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"  # stage output arrives as it is printed
    return env


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
    for command in (
        ["init", "-q"],
        ["config", "user.email", "tests@localhost"],
        ["config", "user.name", "tests"],
    ):
        assert git(*command, cwd=directory).returncode == 0
    assert dvc("init", "-q", cwd=directory).returncode == 0
    assert dvc("config", "core.autostage", "true", cwd=directory).returncode == 0
    assert git("add", "-A", cwd=directory).returncode == 0
    assert git("commit", "-qm", "scratch project", cwd=directory).returncode == 0
    return directory
