"""Check the locks: current, fully pinned, one TensorFlow per platform, installable everywhere.

    python -m scripts.check_platforms

``requirements.txt`` (CPU: Linux x86-64 and aarch64, macOS arm64, Windows x86-64) and
``requirements-gpu.txt`` (CUDA: Linux x86-64) are uv's universal locks of the ``*.in`` files
(``make lock``). For each lock this checks that every package is pinned (``==``) with hashes;
that re-running the command in its header on the lock itself (``--exclude-newer`` makes it
repeatable; uv keeps the pins the inputs still allow) gives the same lock, i.e. nobody edited an
input without re-locking; and, per platform, that uv's own
resolver (``uv pip install --dry-run --python-platform …``) installs it there with exactly one
TensorFlow build and the export runtimes that have wheels there. Prints a line per platform;
exits 1 naming what failed. macOS means 14 or later (onnxruntime's wheels).
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from distillation.cli import run_stage

CPU_LOCK = Path("requirements.txt")
GPU_LOCK = Path("requirements-gpu.txt")
# name → uv's --python-platform target
PLATFORMS = {
    "Linux x86-64": "x86_64-manylinux_2_28",
    "Linux aarch64": "aarch64-manylinux_2_28",
    "macOS arm64": "aarch64-apple-darwin",
    "Windows x86-64": "x86_64-pc-windows-msvc",
}
LOCK_PLATFORMS = {CPU_LOCK: list(PLATFORMS), GPU_LOCK: ["Linux x86-64"]}
# uv assumes macOS 13 unless told; onnxruntime's macOS wheels (1.32) need 14 (Sonoma, 2023).
MACOS_DEPLOYMENT_TARGET = "14.0"
PYTHON_VERSION = "3.11"
TENSORFLOW_BUILDS = ("tensorflow", "tensorflow-cpu")
# The export stage's runtimes, per platform: where one is absent, the stage writes that format's
# file, skips measuring it and says so. LiteRT has no Windows wheels.
EXPORT_RUNTIMES = {"onnxruntime": list(PLATFORMS), "ai-edge-litert": ["Linux x86-64", "Linux aarch64", "macOS arm64"]}
_OFFLINE_SIGNS = ("Failed to fetch", "dns error", "Network is unreachable", "Could not connect", "error sending request")


class IndexUnreachable(ConnectionError):
    """The package index cannot be reached from here."""


def locked_requirements(lock: Path) -> list[tuple[Requirement, list[str]]]:
    """Every entry of a lock: the requirement (with its marker) and its ``--hash`` values."""
    entries = []
    for entry in re.sub(r"\\\n", " ", lock.read_text()).splitlines():
        entry = entry.split("#", 1)[0].strip()
        if not entry:
            continue
        requirement_text, *hash_options = entry.split(" --hash=")
        entries.append((Requirement(requirement_text.strip()), [option.strip() for option in hash_options]))
    return entries


def unpinned(lock: Path) -> list[str]:
    """Entries of ``lock`` without an exact version or without hashes."""
    return [str(requirement) for requirement, hashes in locked_requirements(lock)
            if not hashes or len(requirement.specifier) != 1 or next(iter(requirement.specifier)).operator != "=="]


def pins_for_this_interpreter(lock: Path) -> dict[str, str]:
    """{package: version} that ``lock`` installs on the running platform and Python."""
    pins = {}
    for requirement, _ in locked_requirements(lock):
        if requirement.marker is None or requirement.marker.evaluate():
            pins[canonicalize_name(requirement.name)] = next(iter(requirement.specifier)).version
    return pins


def installed_packages() -> dict[str, str]:
    """{package: version} of every distribution installed in the running environment."""
    return {canonicalize_name(distribution.metadata["Name"]): distribution.version for distribution in metadata.distributions()}


def _uv(*arguments: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "MACOSX_DEPLOYMENT_TARGET": MACOS_DEPLOYMENT_TARGET}
    result = subprocess.run([sys.executable, "-m", "uv", *arguments], capture_output=True, text=True, check=False, env=environment)
    if result.returncode != 0 and any(sign in result.stderr for sign in _OFFLINE_SIGNS):
        raise IndexUnreachable("uv cannot reach the package index")
    return result


def planned_install(lock: Path, platform: str) -> dict[str, str]:
    """{package: version} that uv would install from ``lock`` on ``platform`` (nothing is installed)."""
    with tempfile.TemporaryDirectory() as target:
        result = _uv("pip", "install", "--dry-run", "--no-deps", "--require-hashes", "--python-platform", PLATFORMS[platform],
                     "--python-version", PYTHON_VERSION, "--target", target, "-r", str(lock))
    if result.returncode != 0:
        raise ValueError(f"{lock}: uv cannot install it on {platform}: {result.stderr.strip().splitlines()[-1]}")
    planned = re.findall(r"^ \+ (\S+)==(\S+)$", result.stderr + result.stdout, flags=re.MULTILINE)
    return {canonicalize_name(name): version for name, version in planned}


def relocked_differences(lock: Path) -> list[str]:
    """Lines that differ between ``lock`` and what the command in its header makes from it now."""
    header = lock.read_text().splitlines()[1].lstrip("# ").strip()
    command = shlex.split(header)
    if command[:3] != ["uv", "pip", "compile"] or "-o" not in command:
        raise ValueError(f"{lock}: its second line is not the `uv pip compile … -o {lock}` command that made it")
    with tempfile.TemporaryDirectory() as folder:
        fresh = Path(folder) / lock.name
        # uv keeps an output file's pins while the inputs still allow them: only a changed input
        # changes the lock, not a file the index published later with an earlier upload date
        # (seen: tomlkit 0.15.3 appeared under --exclude-newer 2026-11-25 after that lock was made).
        fresh.write_text(lock.read_text())
        command[command.index("-o") + 1] = str(fresh)
        result = _uv(*command[1:], "--quiet")
        if result.returncode != 0:
            raise ValueError(f"{lock}: re-locking failed: {result.stderr.strip().splitlines()[-1]}")
        old, new = lock.read_text().splitlines()[2:], fresh.read_text().splitlines()[2:]
    return sorted(set(old) ^ set(new))


def check_lock(lock: Path) -> list[str]:
    """Print what ``lock`` gives each of its platforms; return the failures (empty when all is well)."""
    failures = [f"{lock}: not pinned with hashes: {entry}" for entry in unpinned(lock)]
    changed = relocked_differences(lock)
    if changed:
        failures.append(f"{lock}: `make lock` with its own date gives a different lock ({len(changed)} lines differ, e.g. {changed[0]!r}); "
                        "an input changed without re-locking")
    for platform in LOCK_PLATFORMS[lock]:
        planned = planned_install(lock, platform)
        builds = [f"{name}=={planned[name]}" for name in TENSORFLOW_BUILDS if name in planned]
        runtimes = [name for name in EXPORT_RUNTIMES if name in planned]
        print(f"{lock} on {platform}: {len(planned)} packages, {', '.join(builds) or 'NO TENSORFLOW'}; "
              f"export runtimes: {', '.join(runtimes) or 'none'}")
        if len(builds) != 1:
            failures.append(f"{lock}: {platform} gets {len(builds)} TensorFlow builds ({', '.join(builds) or 'none'}); expected exactly one")
        failures += [f"{lock}: {platform} lacks {name}, which has wheels for it" for name, platforms in EXPORT_RUNTIMES.items()
                     if platform in platforms and name not in planned]
    return failures


def main() -> None:
    try:
        failures = [failure for lock in LOCK_PLATFORMS for failure in check_lock(lock)]
    except IndexUnreachable as error:
        raise ValueError(f"cannot check the locks: {error}") from None
    if failures:
        raise ValueError("; ".join(failures))


if __name__ == "__main__":
    run_stage(main)
