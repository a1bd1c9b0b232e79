"""Prove which TensorFlow each platform gets from requirements.txt, with pip's own resolution.

    python -m scripts.check_platforms

For Linux x86-64, Linux aarch64, macOS arm64 and Windows x86-64: evaluates the environment
markers of requirements.txt's TensorFlow lines for that platform (exactly one must apply: never
both builds, never none), then asks pip to resolve that requirement for the platform's wheel
tags without downloading (``pip install --dry-run --only-binary=:all: --platform …``). Prints
a line per platform; exits 1 if any platform would get no TensorFlow, two, or no wheel.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

from distillation.cli import run_stage

REQUIREMENTS = Path("requirements.txt")
# name → (marker environment, pip platform tags of its wheels)
PLATFORMS = {
    "Linux x86-64": ({"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix"},
                     ["manylinux_2_27_x86_64", "manylinux_2_28_x86_64"]),
    "Linux aarch64": ({"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64", "os_name": "posix"},
                      ["manylinux_2_27_aarch64", "manylinux_2_28_aarch64"]),
    "macOS arm64": ({"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64", "os_name": "posix"},
                    ["macosx_12_0_arm64"]),
    "Windows x86-64": ({"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64", "os_name": "nt"},
                       ["win_amd64"]),
}
PYTHON_VERSION = "3.11"


def tensorflow_requirements(path: Path = REQUIREMENTS) -> list[Requirement]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    requirements = [Requirement(line) for line in lines if line and not line.startswith("-")]
    return [requirement for requirement in requirements if requirement.name.startswith("tensorflow")]


def selected(requirements: list[Requirement], marker_environment: dict[str, str]) -> list[Requirement]:
    environment = {**default_environment(), **marker_environment, "python_version": PYTHON_VERSION,
                   "python_full_version": f"{PYTHON_VERSION}.0"}
    return [r for r in requirements if r.marker is None or r.marker.evaluate(environment)]


def pip_resolves(requirement: Requirement, platform_tags: list[str]) -> str:
    """What pip would install for ``requirement`` on those wheel tags ('' if nothing)."""
    specifier = f"{requirement.name}{requirement.specifier}"
    with tempfile.TemporaryDirectory() as target:
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--only-binary=:all:",
                   "--python-version", PYTHON_VERSION, "--target", target, "--quiet", "--report", "-", specifier]
        for tag in platform_tags:
            command += ["--platform", tag]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        if any(sign in result.stderr for sign in ("Failed to establish", "NewConnectionError", "Network is unreachable", "Temporary failure in name resolution")):
            raise ConnectionError("pip cannot reach the package index")
        return ""

    report = json.loads(result.stdout)
    return ", ".join(f"{item['metadata']['name']} {item['metadata']['version']} ({Path(item['download_info']['url']).name})"
                     for item in report.get("install", []))


def main() -> None:
    requirements = tensorflow_requirements()
    try:
        report_platforms(requirements)
    except ConnectionError as error:
        raise ValueError(f"{REQUIREMENTS}: cannot check platforms: {error}") from None


def report_platforms(requirements: list[Requirement]) -> None:
    failures = 0
    for name, (environment, tags) in PLATFORMS.items():
        chosen = selected(requirements, environment)
        if len(chosen) != 1:
            failures += 1
            print(f"{name}: {len(chosen)} TensorFlow requirements apply ({', '.join(map(str, chosen)) or 'none'}); expected exactly one")
            continue
        resolved = pip_resolves(chosen[0], tags)
        failures += not resolved
        print(f"{name}: {chosen[0].name}{chosen[0].specifier} → {resolved or 'NO WHEEL FOUND'}")
    if failures:
        raise ValueError(f"{REQUIREMENTS}: {failures} platform(s) without exactly one installable TensorFlow")


if __name__ == "__main__":
    run_stage(main)
