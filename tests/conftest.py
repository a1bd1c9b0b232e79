"""Shared fixtures: tiny EMNIST-layout files written by the tests, and the real sample."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REAL_SAMPLE = PROJECT_ROOT.parent / "shared" / "data" / "emnist-letters-a-m.mat"


@pytest.fixture(scope="session")
def tiny_letters_mat(tmp_path_factory) -> Path:
    """A small synthetic EMNIST-letters file: 26 classes, 12 train and 4 test images each."""
    from distillation.data.emnist import write_emnist_mat
    from distillation.data.synthetic import generate_letters, letters_mapping

    path = tmp_path_factory.mktemp("mat") / "tiny-letters.mat"
    train_images, train_labels = generate_letters(12, seed=1)
    test_images, test_labels = generate_letters(4, seed=2)
    write_emnist_mat(path, train_images, train_labels, test_images, test_labels, letters_mapping())
    return path


@pytest.fixture(scope="session")
def real_sample() -> Path:
    if not REAL_SAMPLE.is_file():
        pytest.skip(f"real EMNIST sample not present at {REAL_SAMPLE} (only in the team's checkouts)")
    return REAL_SAMPLE


# The full tier: a test that asks for any of these fixtures starts DVC (in a scratch project or a
# clone of the trained tiny one), a server or the package index, and is marked `full` here, so
# `make test` (-m "not full") leaves it to `make test-all` and CI. Everything else runs in-process.
FULL_TIER_FIXTURES = frozenset({"trained_repo", "scratch_project", "postgres_url", "restartable_postgres", "webdav_url", "webdav_server",
                                "optuna_dashboard", "package_index"})
# With `make test-all`'s workers (`--dist loadfile --no-loadscope-reorder`), the files that build on
# the trained tiny project go first, so the other workers' in-process files fill the wait for it.
FIRST_FILES = ("test_make_compare.py", "test_sweeps.py", "test_remote.py", "test_export.py", "test_experiments.py",
               "test_pipeline.py")


# CI's skip policy (`.ci/run` sets STRICT_SKIPS=1): a skip whose reason starts with none of these
# fails the run, so a test that silently stops running is a red CI, not a green one.
EXPECTED_SKIPS = {
    "this CPU has AMX or AVX512-BF16": "the bfloat16 refusal exists only on CPUs without native bf16 (AVX2-only EPYC runs it)",
    "cannot mount a small tmpfs here": "the disk-full tests need `mount` (root); the /dev/full test covers ENOSPC without it",
}
unexpected_skips: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and os.environ.get("STRICT_SKIPS") == "1":
        reason = str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr).removeprefix("Skipped: ")
        if not reason.startswith(tuple(EXPECTED_SKIPS)):
            unexpected_skips.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if unexpected_skips:
        print(f"\nerror: {len(unexpected_skips)} unexpected skips (expected: {', '.join(EXPECTED_SKIPS)}):", file=sys.stderr)
        for line in unexpected_skips:
            print(f"  {line}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if FULL_TIER_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.full)

    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return FIRST_FILES.index(name) if name in FIRST_FILES else len(FIRST_FILES)

    items.sort(key=rank)  # stable: the order inside each file, and of the other files, is kept


@pytest.fixture(scope="session")
def scratch_project():
    """``make(directory, params_changes=None)``: a copy of the project's code with tiny params, to run stages or DVC in."""
    from project import copy_scratch_project

    return copy_scratch_project


@pytest.fixture(scope="module")
def webdav_server(tmp_path_factory):
    """``(url, folder)``: a WsgiDAV server on 127.0.0.1 serving an empty folder ``store``; stopped after the module."""
    from project import free_port, wait_for_port

    root = tmp_path_factory.mktemp("webdav-root")
    (root / "store").mkdir()  # the team's folder on the server, as an admin would create it
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "wsgidav"), "--host", "127.0.0.1", "--port", str(port),
         "--root", str(root), "--auth", "anonymous", "--no-config", "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, "the WebDAV server", server)
        yield f"webdav://127.0.0.1:{port}/store", root / "store"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def webdav_url(webdav_server):
    """The URL of :func:`webdav_server`'s folder ``store``."""
    return webdav_server[0]


@pytest.fixture(scope="module")
def postgres_url():
    """An empty database on a PostgreSQL server of its own on 127.0.0.1; stopped after the module."""
    from postgres import postgres_server, server_binaries

    if server_binaries() is None:
        pytest.skip("PostgreSQL's server binaries not found (set PG_BIN)")
    with postgres_server() as url:
        yield url


@pytest.fixture
def restartable_postgres():
    """``(url, server)``: a PostgreSQL server of the test's own, which it may stop and start again."""
    from postgres import restartable_postgres as start, server_binaries

    if server_binaries() is None:
        pytest.skip("PostgreSQL's server binaries not found (set PG_BIN)")
    with start() as (url, server):
        yield url, server


@pytest.fixture
def optuna_dashboard():
    """``serve(storage)``: optuna-dashboard on 127.0.0.1 for that storage, started as `make sweep-dashboard`
    starts it (the URL in the environment); its base URL. Stopped after the test."""
    from project import free_port, wait_for_port

    servers: list[subprocess.Popen] = []

    def serve(storage: str) -> str:
        port = free_port()
        servers.append(subprocess.Popen([sys.executable, "-m", "scripts.sweep_dashboard", "--port", str(port)], cwd=PROJECT_ROOT,
                                        env={**os.environ, "SWEEP_STORAGE": storage},
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for_port(port, "optuna-dashboard", servers[-1], seconds=60)
        return f"http://127.0.0.1:{port}"

    yield serve
    for server in servers:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="session")
def package_index(tmp_path_factory) -> None:
    """The package index as uv reaches it; the test is skipped where it cannot be reached."""
    from scripts.check_platforms import IndexUnreachable, _uv

    probe = tmp_path_factory.mktemp("index") / "probe.in"
    probe.write_text("packaging\n")
    try:
        _uv("pip", "compile", "--quiet", "--no-header", "--no-deps", str(probe))
    except IndexUnreachable:
        pytest.skip("no package index reachable from here")


def random_upright_images(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(count, 28, 28), dtype=np.uint8)


@pytest.fixture(scope="session")
def trained_repo(tmp_path_factory, request) -> Path:
    """The tiny pipeline run once through `dvc repro` in a git repository, results committed.

    Built once per test run, whatever the number of pytest-xdist workers: the first worker to
    need it builds it in the run's shared temporary folder while the others wait on a lock.
    Read-only for tests: clone it (``project.clone_trained``) to change anything.
    """
    import fcntl

    from project import trained_repository

    shared = tmp_path_factory.getbasetemp()
    if hasattr(request.config, "workerinput"):  # an xdist worker: its folder sits in the run's
        shared = shared.parent
    origin, built = shared / "trained" / "origin", shared / "trained" / "built"
    with open(shared / "trained.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not built.exists():
            shutil.rmtree(origin, ignore_errors=True)  # a build that failed half-way
            trained_repository(origin)
            built.touch()
    return origin
