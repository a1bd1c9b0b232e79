"""Benchmark stored views (augment.views): time and peak memory of every stage that views touch, side by side.

    python bench/views_benchmark.py                    # EMNIST-letters size (124,800 train + val), K = 16
    python bench/views_benchmark.py --scale 0.1 --views 4
    python bench/views_benchmark.py --augment-only     # source, convert and augment: drawing the views alone

Makes the synthetic letters once, then in one scratch copy of the project runs, one process per
stage as DVC runs them: source, convert, augment, a one-epoch teacher, soft_targets and
view_targets at K views (its teacher's cost per view), then the student (KD, and FitNets for the hints) with the views and
again without (``augment.views: 0``), the two runs of each method back to back so that the
machine's load is alike for both. Prints each stage's wall time and peak resident memory, the
student's training images/s with views over without, and what a view costs the teacher; writes the table to ``bench/results-views-<label>.md``.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import yaml

from run_benchmark import cpu_model, image_counts, make_data, timed  # a sibling module

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from distillation.experiments.scratch import copy_project, init_git_repository, merge  # noqa: E402

# The limits the views were built to (their issue): every stage within 3 GB of resident memory, so
# K = 16 at the official size runs on a laptop, and a student at least 80 % as fast per image with
# views as without, so that views cost little training time.
BUDGET_MB = 3072
SPEED_TARGET = 0.8


def set_params(directory: Path, changes: dict) -> None:
    path = directory / "params.yaml"
    path.write_text(yaml.safe_dump(merge(yaml.safe_load(path.read_text()), changes), sort_keys=False))


def run(directory: Path, stage: str, rows: list, label: str | None = None) -> dict:
    seconds, peak_mb = timed([sys.executable, "-m", f"stages.{stage}"], directory, directory / "bench.log")
    rows.append((label or stage, seconds, peak_mb))
    print(f"{label or stage}: {seconds:.1f} s, peak {peak_mb:.0f} MB", file=sys.stderr, flush=True)
    metrics = directory / "metrics" / f"{stage.removeprefix('train_')}.json"
    return json.loads(metrics.read_text()) if metrics.is_file() else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full EMNIST-letters size")
    parser.add_argument("--views", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=3, help="student epochs per run (throughput, not accuracy)")
    parser.add_argument("--augment-only", action="store_true", help="stop after augment (no teacher, no students)")
    arguments = parser.parse_args()
    if not 0 < arguments.scale <= 1 or arguments.views < 1:
        sys.exit("error: --scale must be in (0, 1] and --views at least 1")
    rows: list = []
    with tempfile.TemporaryDirectory(prefix="kd-views-bench-") as scratch:
        source = Path(scratch) / "letters.mat"
        make_data(arguments.scale, source)
        directory = Path(scratch) / "project"
        directory.mkdir()
        copy_project(directory, {"data": {"source": str(source)}, "teacher": {"epochs": 1, "warmup_epochs": 0.5},
                                 "distill": {"epochs": arguments.epochs, "warmup_epochs": min(1, arguments.epochs / 2)}, "augment": {"views": arguments.views}})
        init_git_repository(directory)
        # augment reads only the prepared images, so drawing the views is measured before any teacher
        for stage in ("source", "convert"):
            run(directory, stage, rows)
        augment = run(directory, "augment", rows, f"augment (K = {arguments.views})")
        if not arguments.augment_only:
            for stage in ("train_teacher", "soft_targets"):
                run(directory, stage, rows)
            view_targets = run(directory, "view_targets", rows, f"view_targets (K = {arguments.views})")
            speeds = {}
            for method in ("kd", "fitnets"):
                for views in (arguments.views, 0):
                    set_params(directory, {"distill": {"method": method}, "augment": {"views": views}})
                    metrics = run(directory, "train_student", rows, f"train_student {method}, K = {views}")
                    speeds[(method, views)] = metrics["train_images_per_second"]
        counts = image_counts(directory)
    lines = [
        f"## views: K = {arguments.views} on synthetic letters at scale {arguments.scale:g}: "
        f"{counts['train']:,} train / {counts['val']:,} val / {counts['test']:,} test images",
        "",
        "| stage | wall s | peak RSS MB | within 3 GB |",
        "|---|---:|---:|---|",
        *(f"| {name} | {seconds:.1f} | {peak:,.0f} | {'yes' if peak <= BUDGET_MB else '**no**'} |" for name, seconds, peak in rows),
        "",
        f"- augment: {augment['rows']:,} views in {augment['seconds']:.1f} s ({augment['rows'] / max(augment['seconds'], 1e-9):,.0f} views/s)",
    ]
    if not arguments.augment_only:
        lines.append(f"- teacher: {view_targets['teacher_views_per_second']:,} views/s in view_targets (its forward passes alone), "
                     f"{1000 / max(view_targets['teacher_views_per_second'], 1):.2f} ms per view; a one-epoch teacher's accuracy "
                     f"on the views {100 * view_targets['teacher_accuracy_on_views']:.2f} %")
        for method in ("kd", "fitnets"):
            with_views, without = speeds[(method, arguments.views)], speeds[(method, 0)]
            ratio = with_views / without
            lines.append(f"- student {method}: {with_views:,} training images/s with views, {without:,} without: "
                         f"{ratio:.2f}x ({'meets' if ratio >= SPEED_TARGET else '**misses**'} the floor of {SPEED_TARGET:.0%} of the speed without views)")
    lines.append(f"- machine: {cpu_model()}; student epochs per run: {arguments.epochs}")
    text = "\n".join(lines) + "\n"
    label = (f"K{arguments.views}" + ("" if arguments.scale == 1 else f"-scale{arguments.scale:g}")
             + ("-augment" if arguments.augment_only else ""))
    (Path(__file__).parent / f"results-views-{label}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
