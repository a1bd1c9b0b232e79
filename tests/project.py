"""Helpers that run the stages as DVC does: in a scratch copy of the project, as subprocesses."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from distillation.experiments.scratch import copy_project, environment, init_git_repository, merge

# Small enough that a whole `dvc repro` takes well under a minute. float32 on every machine (the
# shipped `auto` is bfloat16 on AMX CPUs), so these 4-step models, and what the tests check of
# them, are the same on every CPU kind; bfloat16 has its own tests (test_precision_and_budget,
# test_methods).
FLOAT32 = {"precision": "float32"}
TINY_PARAMS = {
    "data": {"synthetic": {"train_per_class": 16, "test_per_class": 4}},
    "teacher": {"epochs": 2, "min_steps": 0, **FLOAT32},
    "baseline": {"epochs": 2, "hidden_units": 64, "min_steps": 0, **FLOAT32},
    "distill": {"epochs": 2, "min_steps": 0, **FLOAT32},
}


WALL_CLOCK_KEYS = ("train_seconds", "train_images_per_second")


def without_timings(metrics: dict) -> dict:
    """A model's metrics without the wall-clock figures, which no two runs share."""
    return {key: value for key, value in metrics.items() if key not in WALL_CLOCK_KEYS}


def copy_scratch_project(directory: Path, params_changes: dict | None = None) -> Path:
    """Copy the pipeline's code and config into ``directory`` with tiny params."""
    return copy_project(directory, merge(TINY_PARAMS, params_changes or {}))


def _ports_of_this_worker() -> range:
    """Ports below the kernel's ephemeral range (which it hands to outgoing connections and to binds
    of port 0, so a port found free there can be taken by anyone before the server binds it), split
    among pytest-xdist's workers so that two workers never pick the same one."""
    try:
        ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    low, high = 20000, max(20000 + 1000, ephemeral_low)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index, count = int(worker[2:] or 0), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    size = (high - low) // max(1, count)
    return range(low + index * size, low + (index + 1) * size)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on, from this worker's own share (:func:`_ports_of_this_worker`)."""
    import random

    ports = _ports_of_this_worker()
    for port in random.sample(ports, min(200, len(ports))):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError(f"no free port among {ports.start}–{ports.stop - 1}")


def listening_on(port: int, pids: set[int]) -> bool:
    """Whether one of the processes ``pids`` has a socket listening on ``port`` (asked of each
    process: a user may see its own processes' sockets on every platform)."""
    import psutil

    for pid in pids:
        try:
            connections = psutil.Process(pid).net_connections(kind="tcp")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if any(connection.status == psutil.CONN_LISTEN and connection.laddr.port == port for connection in connections):
            return True
    return False


def wait_for_port(port: int, what: str, server: subprocess.Popen, seconds: float = 30) -> None:
    """Return once ``server`` (or a child of it) listens on 127.0.0.1:``port``: not merely anything
    there; fail the test naming ``what`` if the server exits first, or after ``seconds``."""
    import time

    import psutil
    import pytest

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"{what} exited with {server.returncode} before listening on port {port}")
        try:
            ours = {server.pid, *(child.pid for child in psutil.Process(server.pid).children(recursive=True))}
        except psutil.NoSuchProcess:
            ours = set()
        if listening_on(port, ours):
            return
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


ALWAYS_RUN = "inputs"  # dvc.yaml's always_changed stage: it fingerprints your paths on every run


def changed_stages(project: Path) -> set[str]:
    """The stages `dvc status` finds changed, less the inputs stage when only its always_changed flag names it."""
    result = dvc("status", "--json", cwd=project)
    if result.returncode != 0:
        raise AssertionError(result.stderr[-3000:])
    return {name for name, reasons in json.loads(result.stdout).items() if not (name == ALWAYS_RUN and reasons == ["always changed"])}


def stages_run(output: str) -> list[str]:
    """The stages a `dvc repro` or `dvc exp run` output says it ran, the inputs stage aside (it always runs)."""
    return [name for name in re.findall(r"^Running stage '([^']+)'", output, re.M) if name != ALWAYS_RUN]


def stages_to_run(project: Path, params_changes: dict) -> set[str]:
    """The stages `dvc repro` would run after ``params_changes``, read without training anything.

    The stages ``dvc status`` finds changed, and every stage downstream of them in the pipeline's
    graph (their inputs will change). ``params.yaml`` is left as it was.
    """
    import networkx
    import yaml
    from dvc.repo import Repo

    from distillation.experiments.scratch import merge

    params_file = project / "params.yaml"
    original = params_file.read_text()
    params_file.write_text(yaml.safe_dump(merge(yaml.safe_load(original), params_changes), sort_keys=False))
    try:
        changed = changed_stages(project)
    finally:
        params_file.write_text(original)
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
