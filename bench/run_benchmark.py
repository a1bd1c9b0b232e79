"""Benchmark the whole pipeline at EMNIST-letters size on this machine; print and write a table.

    python bench/run_benchmark.py                      # full size: 4,800 train + 800 test per class
    python bench/run_benchmark.py --scale 0.1          # a tenth of that, to try the script out
    python bench/run_benchmark.py --original           # the original procedure's settings instead

It copies the project into a temporary directory, makes an EMNIST-layout `.mat` with the
synthetic generator, runs every stage as DVC would (one process each, timed with its own peak
resident memory), then times a no-op `dvc repro` and `dvc exp run -S distill.temp=7`. The
Markdown table goes to stdout and to `bench/results-<label>.md`.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scratch import PROJECT_ROOT as PROJECT, copy_project, environment, init_git_repository, merge  # sibling module

STAGES = ("source", "convert", "train_teacher", "soft_targets", "train_baseline", "train_student", "evaluate")
TRAINING_STAGES = {"train_teacher": "teacher", "train_baseline": "baseline", "train_student": "student"}
# The original three Keras scripts: Adadelta at Keras 2's learning rate, fixed epochs.
ORIGINAL = {
    "teacher": {"optimizer": "adadelta", "learning_rate": 1.0, "early_stopping": False, "epochs": 26},
    "baseline": {"optimizer": "adadelta", "learning_rate": 1.0, "early_stopping": False, "epochs": 50},
    "distill": {"optimizer": "adadelta", "learning_rate": 1.0, "early_stopping": False, "epochs": 50},
}


def timed(command: list[str], cwd: Path, log: Path) -> tuple[float, float]:
    """Run ``command``; return its wall seconds and peak resident memory in MB."""
    started = time.perf_counter()
    with log.open("a") as output:
        process = subprocess.Popen(command, cwd=cwd, env=environment(), stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-15:])
        sys.exit(f"{tail}\nerror: `{' '.join(command[1:])}` failed in the benchmark's scratch copy (log tail above)")
    return seconds, usage.ru_maxrss / 1024  # Linux reports kilobytes


def prepare_project(directory: Path, scale: float, original: bool) -> None:
    sizes = {"train_per_class": max(2, round(4800 * scale)), "test_per_class": max(1, round(800 * scale))}
    changes = {"data": {"source": "synthetic", "synthetic": sizes}}
    copy_project(directory, merge(changes, ORIGINAL) if original else changes)
    init_git_repository(directory)


def image_counts(directory: Path) -> dict[str, int]:
    import numpy as np

    counts = {}
    for split in ("train", "val", "test"):
        with np.load(directory / "data" / "prepared" / f"{split}.npz", allow_pickle=False) as contents:
            counts[split] = int(contents["labels"].shape[0])
    return counts


def run(scale: float, original: bool) -> str:
    label = ("original" if original else "pipeline") + ("" if scale == 1 else f"-scale{scale:g}")
    with tempfile.TemporaryDirectory(prefix="kd-bench-") as scratch:
        directory = Path(scratch)
        prepare_project(directory, scale, original)
        log = directory / "bench.log"
        rows, total = [], 0.0
        for stage in STAGES:
            seconds, peak_mb = timed([sys.executable, "-m", f"stages.{stage}"], directory, log)
            total += seconds
            rows.append([stage, seconds, peak_mb])
            print(f"{stage}: {seconds:.1f} s, peak {peak_mb:.0f} MB", file=sys.stderr)
        counts = image_counts(directory)
        throughput = {}
        for stage, model in TRAINING_STAGES.items():
            metrics = json.loads((directory / "metrics" / f"{model}.json").read_text())
            throughput[stage] = (counts["train"] * metrics["epochs"] / metrics["train_seconds"], metrics)
        # Record what ran, then time DVC itself.
        subprocess.run([sys.executable, "-m", "dvc", "commit", "-f", "-q"], cwd=directory, check=True, env=environment())
        subprocess.run(["git", "add", "-A"], cwd=directory, check=True)
        subprocess.run(["git", "commit", "-qm", "bench"], cwd=directory, check=True)
        noop_seconds, _ = timed([sys.executable, "-m", "dvc", "repro"], directory, log)
        experiment_seconds, _ = timed(
            [sys.executable, "-m", "dvc", "exp", "run", "-S", "distill.temp=7"], directory, log
        )

    lines = [
        f"## {label}: {counts['train']:,} train / {counts['val']:,} val / {counts['test']:,} test images",
        "",
        "| stage | wall s | images/s | peak RSS MB | test accuracy | epochs |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    processed = {"convert": sum(counts.values()), "soft_targets": sum(counts.values())}
    for stage, seconds, peak_mb in rows:
        rate, accuracy, epochs = "", "", ""
        if stage in throughput:
            images_per_second, metrics = throughput[stage]
            rate = f"{images_per_second:,.0f} (training)"
            accuracy, epochs = f"{100 * metrics['test_accuracy']:.2f} %", str(metrics["epochs"])
        elif stage in processed:
            rate = f"{processed[stage] / seconds:,.0f} (whole stage)"
        lines.append(f"| {stage} | {seconds:.1f} | {rate} | {peak_mb:,.0f} | {accuracy} | {epochs} |")
    lines += [
        f"| **total** | **{total:.1f}** ({total / 60:.1f} min) | | | | |",
        "",
        f"- no-op `dvc repro` (everything up to date): {noop_seconds:.2f} s",
        f"- `dvc exp run -S distill.temp=7` (only the student and evaluate re-run): {experiment_seconds:.1f} s",
        f"- machine: {os.cpu_count()} CPU cores; Python {sys.version.split()[0]}",
        "",
    ]
    table = "\n".join(lines)
    output = PROJECT / "bench" / f"results-{label}.md"
    output.write_text(table)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full EMNIST-letters size")
    parser.add_argument("--original", action="store_true", help="the original procedure's settings")
    arguments = parser.parse_args()
    if not 0 < arguments.scale <= 1:
        sys.exit("error: --scale must be in (0, 1]")
    print(run(arguments.scale, arguments.original))


if __name__ == "__main__":
    main()
