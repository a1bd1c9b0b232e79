"""Time both test tiers on a clean clone, as CI runs them, and write ``bench/results-test-suite.md``.

    python bench/suite_times.py                 # clones HEAD beside the project (so ../shared is found)

Runs ``make test`` (the fast tier, the environment built first as on a fresh machine) and then
``bash .ci/run`` (CI's command: both tiers) in a fresh clone of the committed ``HEAD``, and records
for each the tests pytest counted, its own time and the whole command's wall time, with the
commit and the machine. docs/speed.md renders the file. Both commands must pass.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from distillation.machine import machine_kind  # noqa: E402

COMMANDS = (("make test", "the fast tier; the environment built first"),
            ("bash .ci/run", "CI: both tiers, the environment already there"))
PYTEST_SUMMARY = re.compile(r"=+ (?P<counts>[^=]*?) in (?P<seconds>[\d.]+)s")


def pytest_summary(output: str) -> tuple[str, float]:
    """The counts (``"279 passed, 2 skipped"``) and seconds of pytest's last summary line in ``output``."""
    found = PYTEST_SUMMARY.findall(output)
    if not found:
        raise ValueError("no pytest summary line in the output")
    counts, seconds = found[-1]
    return counts.strip(), float(seconds)


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {round(seconds % 60):02d} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clone-dir", type=Path, default=PROJECT_ROOT.parent / "suite-times-clone")
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / "bench" / "results-test-suite.md")
    arguments = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            check=True).stdout.strip()
    shutil.rmtree(arguments.clone_dir, ignore_errors=True)
    subprocess.run(["git", "clone", "--quiet", str(PROJECT_ROOT), str(arguments.clone_dir)], check=True)
    rows = []
    for command, what in COMMANDS:
        started = time.perf_counter()
        finished = subprocess.run(command, shell=True, cwd=arguments.clone_dir, capture_output=True, text=True)
        wall = time.perf_counter() - started
        log = arguments.clone_dir.parent / f"suite-times-{command.split()[-1].replace('/', '-')}.log"
        log.write_text(finished.stdout + finished.stderr)
        if finished.returncode:
            raise SystemExit(f"error: `{command}` failed (exit {finished.returncode}); its output: {log}")
        counts, seconds = pytest_summary(finished.stdout)
        rows.append(f"| `{command}` ({what}) | {counts} | {minutes(seconds)} | {minutes(wall)} |")
        print(rows[-1], flush=True)
    arguments.output.write_text(
        "# Test suite times\n\n`python bench/suite_times.py`: a clean clone of commit "
        f"`{commit}` beside `../shared`, on {os.cpu_count()} cores ({machine_kind()}), uv's cache warm, "
        "one command after the other.\n\n| command | tests | pytest | whole command |\n|---|---|---:|---:|\n"
        + "\n".join(rows) + "\n")
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()
