"""Shared fixtures: tiny EMNIST-layout files written by the tests, and the real sample."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REAL_SAMPLE = PROJECT_ROOT.parent / "shared" / "data" / "emnist-letters-a-m.mat"


@pytest.fixture(scope="session")
def tiny_letters_mat(tmp_path_factory) -> Path:
    """A small synthetic EMNIST-letters file: 26 classes, 12 train and 4 test images each."""
    from distillation.emnist import write_emnist_mat
    from distillation.synthetic import generate_letters, letters_mapping

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


# The order in which pytest-xdist's workers take the files (with `--dist loadfile
# --no-loadscope-reorder`; every other file follows in its usual order). Each worker takes one
# file, and another as soon as fewer than three of its tests are left, so the comparison's worker
# (one test) holds a second file from the start: a short one. The comparison builds the trained
# tiny project first; the other workers run in-process training meanwhile, then the remotes, the
# queued sweep and the pipeline tests, which reuse that project. Tuned for `make test`'s 3 workers.
LONGEST_FIRST = (
    "test_make_compare.py", "test_sweeps.py", "test_stages.py", "test_methods.py", "test_views.py", "test_comparison.py",
    "test_remote.py", "test_export.py", "test_experiments.py", "test_pipeline.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order inside each file, and of the other files, is kept


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
