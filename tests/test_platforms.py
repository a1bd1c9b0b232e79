"""The locks: every package pinned with hashes, this environment exactly the lock, one TensorFlow per platform."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import PROJECT_ROOT
from scripts.check_platforms import CPU_LOCK, GPU_LOCK, installed_packages, pins_for_this_interpreter, relocked_differences, unpinned

EXPECTED = {"Linux x86-64": "tensorflow-cpu", "Linux aarch64": "tensorflow", "macOS arm64": "tensorflow", "Windows x86-64": "tensorflow-cpu"}


@pytest.mark.parametrize("lock", [CPU_LOCK, GPU_LOCK])
def test_every_locked_package_is_pinned_with_hashes(lock):
    assert unpinned(PROJECT_ROOT / lock) == []


def test_this_environment_is_exactly_the_lock():
    """Every installed package at its locked version, and nothing the lock does not hold."""
    if sys.prefix == sys.base_prefix:
        pytest.skip("not running in the project's virtual environment")
    assert installed_packages() == pins_for_this_interpreter(PROJECT_ROOT / CPU_LOCK)


def test_uv_installs_the_locks_on_every_platform_with_one_tensorflow(package_index):
    result = subprocess.run([sys.executable, "-m", "scripts.check_platforms"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    for platform, package in EXPECTED.items():
        line = next(line for line in result.stdout.splitlines() if line.startswith(f"{CPU_LOCK} on {platform}:"))
        builds, _, runtimes = line.partition("; export runtimes: ")
        assert builds.endswith(f"{package}==2.21.0"), line
        # onnxruntime everywhere; LiteRT everywhere but Windows, where it has no wheel
        assert runtimes == ("onnxruntime" if platform.startswith("Windows") else "onnxruntime, ai-edge-litert"), line
    gpu = next(line for line in result.stdout.splitlines() if line.startswith(f"{GPU_LOCK} on Linux x86-64:"))
    assert gpu.partition("; ")[0].endswith("tensorflow==2.21.0"), gpu


def test_an_input_edited_without_relocking_is_caught(tmp_path, monkeypatch, package_index):
    """Re-locking keeps the lock's pins, so only an edited input shows: here statsmodels moved back a release."""
    for name in ("requirements.in", "requirements-common.in", "requirements.txt"):
        (tmp_path / name).write_text((PROJECT_ROOT / name).read_text())
    monkeypatch.chdir(tmp_path)
    assert relocked_differences(CPU_LOCK) == []
    common = tmp_path / "requirements-common.in"
    edited = re.sub(r"(?m)^statsmodels\S*", "statsmodels==0.14.5", common.read_text())
    assert edited != common.read_text()
    common.write_text(edited)
    changed = relocked_differences(CPU_LOCK)
    assert "statsmodels==0.14.5 \\" in changed
