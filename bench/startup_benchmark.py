"""A stage's start-up: importing Keras as it comes, and as the stages do (without its optional extras).

    python bench/startup_benchmark.py                                    # prints the table
    python bench/startup_benchmark.py --output bench/results-startup.md  # and writes it (docs/speed.md)

Each way is a fresh interpreter, timed from launch to exit, several rounds alternating the ways:
``import keras`` as it comes; the same after :func:`distillation.lean_keras.install` (what
``stages/__init__.py`` does); and importing a whole stage that runs a model (``stages.evaluate``).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

WAYS = {
    "`import keras`": "import keras",
    "`import keras` without the optional extras (`lean_keras.install()`)": "from distillation import lean_keras; lean_keras.install(); import keras",
    "`import stages.evaluate` (as `python -m stages.evaluate` starts)": "import stages.evaluate",
}


def seconds_to_run(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, check=True, capture_output=True,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", type=Path)
    arguments = parser.parse_args()
    from side_by_side import alternating_medians, machine_and_load, publish  # a sibling module

    seconds_to_run("pass")  # the interpreter and its files warm in the page cache
    median = alternating_medians(WAYS, arguments.rounds, lambda way: seconds_to_run(WAYS[way]), "s")
    plain = median["`import keras`"]
    rows = [f"| {way} | {median[way]:.2f} | {median[way] / plain:.2f} |" for way in WAYS]
    publish("A stage's start-up", ["a fresh interpreter runs", "s", "vs `import keras`"], 1, rows,
            f"median of {arguments.rounds} alternating rounds, launch to exit; {machine_and_load()}", arguments.output)


if __name__ == "__main__":
    main()
