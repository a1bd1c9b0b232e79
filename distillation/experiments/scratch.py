"""A scratch copy of the project: what the tests and the benchmark run the pipeline in."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from distillation.config.params import merge

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Every comparison*.yaml too: `make compare` reads whichever one it is given.
COPIED = ("dvc.yaml", "params.yaml", "sweeps", "stages", "distillation", "scripts", ".gitignore", ".dvcignore")


def copy_project(directory: Path, params_changes: dict | None = None) -> Path:
    """Copy the pipeline's code and config into ``directory``, with ``params_changes`` applied."""
    for name in (*COPIED, *sorted(path.name for path in PROJECT_ROOT.glob("comparison*.yaml"))):
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, directory / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy(source, directory / name)
    params = merge(yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text()), params_changes or {})
    (directory / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return directory


def environment() -> dict[str, str]:
    """This interpreter's bin first on PATH, so DVC's `python -m stages.x` finds our packages."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", DVC_NO_ANALYTICS="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"  # stage output arrives as it is printed
    return env


def init_git_repository(directory: Path) -> None:
    """Make ``directory`` a git + DVC repository with one commit: dvclive and `dvc exp` need one."""
    for command in (
        ["git", "init", "-q"],
        ["git", "config", "user.email", "scratch@localhost"],
        ["git", "config", "user.name", "scratch"],
        [sys.executable, "-m", "dvc", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "commit", "-qm", "scratch copy"],
    ):
        subprocess.run(command, cwd=directory, env=environment(), check=True, capture_output=True)
