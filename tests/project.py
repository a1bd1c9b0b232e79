"""Helpers that run the stages as DVC does: in a scratch copy of the project, as subprocesses."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.scratch import copy_project, environment, init_git_repository, merge

# Small enough that a whole `dvc repro` takes well under a minute.
TINY_PARAMS = {
    "data": {"synthetic": {"train_per_class": 16, "test_per_class": 4}},
    "teacher": {"epochs": 2, "min_steps": 0},
    "baseline": {"epochs": 2, "hidden_units": 64, "min_steps": 0},
    "distill": {"epochs": 2, "min_steps": 0},
}


WALL_CLOCK_KEYS = ("train_seconds", "train_images_per_second")


def without_timings(metrics: dict) -> dict:
    """A model's metrics without the wall-clock figures, which no two runs share."""
    return {key: value for key, value in metrics.items() if key not in WALL_CLOCK_KEYS}


def copy_scratch_project(directory: Path, params_changes: dict | None = None) -> Path:
    """Copy the pipeline's code and config into ``directory`` with tiny params."""
    return copy_project(directory, merge(TINY_PARAMS, params_changes or {}))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, what: str, seconds: float = 30) -> None:
    """Return once something listens on 127.0.0.1:``port``; fail the test naming ``what`` after ``seconds``."""
    import time

    import pytest

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"{what} did not start within {seconds:g} s")


def run(command: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``command`` to its exit, its output read from files rather than pipes.

    With pipes, reading would wait for every process holding them: `dvc exp run --run-all` starts
    queue workers that inherit its output and can outlive it, and the wait then ends only at the
    timeout even though DVC itself exited 0.
    """
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        completed = subprocess.run(command, cwd=cwd, env=environment(), stdout=stdout, stderr=stderr,
                                   text=True, timeout=timeout)
        stdout.seek(0)
        stderr.seek(0)
        return subprocess.CompletedProcess(command, completed.returncode, stdout.read(), stderr.read())


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    """The lines of a run's stderr that are the project's errors (TensorFlow's start-up logs aside)."""
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def run_stage(name: str, cwd: Path) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", f"stages.{name}"], cwd)


def dvc(*arguments: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "dvc", *arguments], cwd, timeout)


def start_dvc(*arguments: str, cwd: Path) -> subprocess.Popen:
    """Start DVC in its own process group (so the whole tree can be killed), reading its output."""
    return subprocess.Popen(
        [sys.executable, "-m", "dvc", *arguments], cwd=cwd, env=environment(), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )


def stages_to_run(project: Path, params_changes: dict) -> set[str]:
    """The stages `dvc repro` would run after ``params_changes``, read without training anything.

    The stages ``dvc status`` finds changed, and every stage downstream of them in the pipeline's
    graph (their inputs will change). ``params.yaml`` is left as it was.
    """
    import networkx
    import yaml
    from dvc.repo import Repo

    from bench.scratch import merge

    params_file = project / "params.yaml"
    original = params_file.read_text()
    params_file.write_text(yaml.safe_dump(merge(yaml.safe_load(original), params_changes), sort_keys=False))
    try:
        result = dvc("status", "--json", cwd=project)
    finally:
        params_file.write_text(original)
    if result.returncode != 0:
        raise AssertionError(result.stderr[-3000:])
    changed = set(json.loads(result.stdout))
    with Repo(str(project)) as repo:
        graph = repo.index.graph  # an edge runs from a stage to a stage it depends on
        stages = {stage.name: stage for stage in graph.nodes}
        downstream = {other.name for name in changed for other in networkx.ancestors(graph, stages[name])}
    return changed | downstream


def git(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    return run(["git", *arguments], cwd)


def scratch_git_project(directory: Path, params_changes: dict | None = None) -> Path:
    """A scratch project that is also a git repository with one commit: `dvc exp` needs one."""
    copy_scratch_project(directory, params_changes)
    init_git_repository(directory)
    assert dvc("config", "core.autostage", "true", cwd=directory).returncode == 0
    return directory


def trained_repository(directory: Path) -> Path:
    """A git + DVC repository with tiny params whose pipeline ran once, results committed.

    Built once per test session (``trained_repo`` in conftest); tests clone it rather than
    train their own teacher.
    """
    directory.mkdir(parents=True, exist_ok=True)
    scratch_git_project(directory)
    result = dvc("repro", cwd=directory)
    assert result.returncode == 0, result.stderr[-3000:]
    assert git("add", "-A", cwd=directory).returncode == 0
    assert git("commit", "-qm", "pipeline results", cwd=directory).returncode == 0
    return directory


def clone_trained(origin: Path, directory: Path, with_cache: bool = True) -> Path:
    """A git clone of ``origin``; ``with_cache``: its DVC cache too (hard links), outputs checked out.

    A copy, not a shared cache: one test's run-cache entries must not satisfy another's runs.
    Without the cache, the clone is what a new user has: a dvc.lock naming outputs it lacks.
    """
    assert git("clone", "-q", str(origin), str(directory), cwd=origin.parent).returncode == 0
    for key, value in (("user.email", "scratch@localhost"), ("user.name", "scratch")):
        git("config", key, value, cwd=directory)
    if with_cache:
        shutil.copytree(origin / ".dvc" / "cache", directory / ".dvc" / "cache", copy_function=os.link)
        checkout = dvc("checkout", cwd=directory)
        assert checkout.returncode == 0, checkout.stderr[-3000:]
    return directory


def clone(origin: Path | str, directory: Path) -> Path:
    """A team member's git clone of ``origin`` (no DVC cache: they pull)."""
    assert git("clone", "-q", str(origin), str(directory), cwd=directory.parent).returncode == 0
    for key, value in (("user.email", "team@localhost"), ("user.name", "team")):
        git("config", key, value, cwd=directory)
    return directory
