"""A disk that fills while a stage writes its model, stored logits or metrics: one line naming the
output, exit 1, and no file that DVC or a later stage could take for good. Two ways to a full disk:
every write of a temporary file going to ``/dev/full`` (the kernel's own ENOSPC, no mount needed:
runs everywhere on Linux), and a real full filesystem (a size-limited tmpfs, mounted here; skipped
where this process may not mount).
Through `dvc repro`, dvc.lock untouched and a re-run finishing the job: test_faults.py (full tier)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from test_bad_input import error_of, files_under, project  # noqa: F401  (a fixture)


def mount_full_disk(folder, size: str = "96k") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip() or 'not permitted'})")


@pytest.fixture
def full_disk(tmp_path):
    """A folder on a 96 KB filesystem: anything larger fails to write with ENOSPC."""
    folder = tmp_path / "full"
    mount_full_disk(folder)
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


DEV_FULL = Path("/dev/full")


def fill_the_disk(monkeypatch) -> None:
    """From now on every atomic write's temporary file is a link to ``/dev/full``, whose every write
    fails with ENOSPC, as on a disk with no space left; the link is removed as a temporary file is."""
    import contextlib

    from distillation import atomic

    if not DEV_FULL.exists():
        pytest.skip("no /dev/full on this system (Linux has one)")
    real_scratch = atomic.scratch_path

    @contextlib.contextmanager
    def full_scratch(near):
        with real_scratch(near) as temporary:
            temporary.symlink_to(DEV_FULL)
            yield temporary

    monkeypatch.setattr(atomic, "scratch_path", full_scratch)


@pytest.fixture
def writes_fill_the_disk(monkeypatch):
    fill_the_disk(monkeypatch)


def check_every_writer_names_its_output_and_leaves_nothing(folder: Path) -> None:
    from distillation.atomic import DiskFull, write_json, write_npz
    from distillation.models.files import save_model
    from distillation.models.networks import build_mlp

    writers = {
        "baseline.keras": lambda path: save_model(build_mlp(26), path),
        "teacher_logits.npz": lambda path: write_npz(path, {"train": np.ones((50_000, 26), np.float32)}),
        "student.json": lambda path: write_json(path, {"curve": list(range(50_000))}),
    }
    for name, write in writers.items():
        with pytest.raises(DiskFull) as full:
            write(folder / name)
        assert str(full.value).startswith(f"{folder / name}: the disk is full (no space left on device)")
        assert "run the stage again" in str(full.value)
    assert files_under(folder) == []  # not even a hidden temporary file


def test_every_writer_names_its_output_and_leaves_nothing_when_writes_fail_for_space(writes_fill_the_disk, tmp_path):
    check_every_writer_names_its_output_and_leaves_nothing(tmp_path)


def test_a_stage_that_cannot_write_its_model_exits_with_one_line_and_writes_nothing(project, tiny_letters_mat, capsys,
                                                                                  monkeypatch):
    from stages import convert, train_baseline

    root = project()
    convert.convert(tiny_letters_mat, root / "data" / "prepared", 0.1, seed=0)
    fill_the_disk(monkeypatch)  # convert wrote its files; from here on the disk is full
    line = error_of(train_baseline.main, capsys)
    assert line == ("error: models/baseline.keras: the disk is full (no space left on device) while writing it; "
                    "nothing was kept: free space there and run the stage again (`dvc repro`)")
    assert not (root / "models").exists() or files_under(root / "models") == []
    assert not (root / "metrics" / "baseline.json").exists()


def test_every_writer_names_its_output_and_leaves_nothing_on_a_full_disk(full_disk):
    check_every_writer_names_its_output_and_leaves_nothing(full_disk)


def test_a_stage_whose_model_does_not_fit_exits_with_one_line_and_writes_nothing(project, tiny_letters_mat, capsys):
    from stages import convert, train_baseline

    root = project()
    convert.convert(tiny_letters_mat, root / "data" / "prepared", 0.1, seed=0)
    mount_full_disk(root / "models", size="64k")
    try:
        line = error_of(train_baseline.main, capsys)
        assert line == ("error: models/baseline.keras: the disk is full (no space left on device) while writing it; "
                        "nothing was kept: free space there and run the stage again (`dvc repro`)")
        assert files_under(root / "models") == [] and not (root / "metrics" / "baseline.json").exists()
    finally:
        subprocess.run(["umount", str(root / "models")], check=True)


def test_through_dvc_a_full_disk_leaves_the_lock_alone_and_a_rerun_finishes_the_job(trained_repo, tmp_path):
    import json

    from project import clone_trained, dvc, without_timings

    project = clone_trained(trained_repo, tmp_path / "clone")
    lock = (project / "dvc.lock").read_text()
    before = json.loads((project / "metrics" / "baseline.json").read_text())
    mount_full_disk(project / "models", size="64k")  # the models folder is a small, empty filesystem now
    try:
        failed = dvc("repro", "-s", "-f", "train_baseline", cwd=project)
        assert failed.returncode != 0
        assert any("models/baseline.keras: the disk is full (no space left on device)" in line
                   for line in (failed.stdout + failed.stderr).splitlines()), failed.stdout[-2000:] + failed.stderr[-2000:]
        assert files_under(project / "models") == []
    finally:
        subprocess.run(["umount", str(project / "models")], check=True)
    assert (project / "dvc.lock").read_text() == lock
    rerun = dvc("repro", "-s", "-f", "train_baseline", cwd=project)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert without_timings(json.loads((project / "metrics" / "baseline.json").read_text())) == without_timings(before)


def test_an_atomic_write_reaches_the_disk_before_its_name_does(tmp_path, monkeypatch):
    # A power cut after the rename must not leave the new name with none of the bytes: the file is
    # fsynced before os.replace, and the folder (the rename itself) after.
    import os

    from distillation import atomic

    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{descriptor}")))
        real_fsync(descriptor)

    def replace(source, target):
        events.append(("replace", str(target)))
        real_replace(source, target)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic.os, "replace", replace)
    target = tmp_path / "metrics" / "student.json"
    atomic.write_json(target, {"test_accuracy": 0.9})
    [(first, written), (second, renamed), (third, folder)] = events
    assert (first, second, third) == ("fsync", "replace", "fsync")
    assert Path(written).name.startswith(".student.tmp-") and renamed == str(target) and folder == str(target.parent)
