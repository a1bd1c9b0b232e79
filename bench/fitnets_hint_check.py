"""Does regressing a PCA-reduced hint cost FitNets accuracy, and what does it buy in speed?

    python bench/fitnets_hint_check.py [--mat PATH] [--components 0 128] [--replicates 3]

On ``--mat`` (default: the real 58,405-letter file in ../shared/data) it trains the teacher once
with the shipped params, stores its outputs as ``soft_targets`` does, then trains the FitNets
student exactly as ``train_student`` does (shipped params, early stopping on val) for every
``--components`` value (0 = the paper's full hint) and every replicate seed, the variants
interleaved within each replicate. Prints, per variant, val and test accuracy (mean ± std),
epochs and training images/s, and the paired val difference to the first variant with a 95 %
t-interval; writes the table to ``--output``. Choices are read off val; test is only shown.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from scipy import stats  # noqa: E402

from distillation.data.emnist import read_emnist_mat  # noqa: E402
from distillation.config.params import load_params  # noqa: E402
from distillation.data.splitting import prepare_splits  # noqa: E402
from distillation.targets.ensemble import teacher_outputs  # noqa: E402
from stages.train_student import train_student  # noqa: E402
from stages.train_teacher import train_teacher  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REAL_MAT = PROJECT_ROOT.parent / "shared" / "data" / "emnist-byclass-letters.mat"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mat", type=Path, default=REAL_MAT)
    parser.add_argument("--components", type=int, nargs="+", default=[0, 128])
    parser.add_argument("--replicates", type=int, default=3)
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / "bench" / "results-fitnets-hint.md")
    arguments = parser.parse_args()
    if not arguments.mat.is_file():
        raise SystemExit(f"--mat {arguments.mat}: file not found (the real file lives in ../shared/data)")
    started = time.perf_counter()
    params = load_params(PROJECT_ROOT / "params.yaml")
    splits = prepare_splits(read_emnist_mat(arguments.mat), params.data.val_fraction, params.seed)
    teacher, teacher_metrics = train_teacher(splits, params.teacher, params.seed)
    logits, hidden = teacher_outputs(teacher, splits)
    # As stored by soft_targets: float16 hints.
    stored = {"logits": logits, "hidden": {split: values.astype(np.float16) for split, values in hidden.items()}}
    print(f"teacher: test {teacher_metrics['test_accuracy']:.4f}", flush=True)

    results: dict[int, list[dict]] = {components: [] for components in arguments.components}
    for replicate in range(arguments.replicates):
        for components in arguments.components:
            settings = params.distill.changed(method="fitnets", fitnets={"hint_components": components})
            _, metrics = train_student(splits, stored, settings, params.baseline.hidden_units, params.seed + replicate)
            results[components].append(metrics)
            print(f"replicate {replicate}, hint_components={components}: val {metrics['val_accuracy']:.4f} "
                  f"test {metrics['test_accuracy']:.4f} best epoch {metrics['best_epoch']}/{metrics['epochs']} "
                  f"{metrics['train_images_per_second']:,} img/s", flush=True)

    reference = arguments.components[0]
    reference_val = np.array([m["val_accuracy"] for m in results[reference]])
    reference_speed = statistics.mean(m["train_images_per_second"] for m in results[reference])
    lines = [
        f"# FitNets: full hint against PCA-reduced hints ({arguments.mat.name})",
        "",
        f"`python bench/fitnets_hint_check.py --components {' '.join(map(str, arguments.components))} "
        f"--replicates {arguments.replicates}`; shipped params otherwise (hint_weight "
        f"{params['distill']['fitnets']['hint_weight']:g}, T {params['distill']['temp']:g}, "
        f"λ {params['distill']['fitnets']['lambda']:g}); teacher test {100 * teacher_metrics['test_accuracy']:.2f} %; "
        f"variants interleaved per replicate in one process; {os.cpu_count()} CPU cores; "
        f"{(time.perf_counter() - started) / 60:.1f} min in all.",
        "",
        f"| hint_components | val % | test % | val − {reference} [95 % CI], points | best epoch (max) / epochs (mean) | train img/s | speed vs {reference} |",
        "|---:|---:|---:|---|---:|---:|---:|",
    ]
    for components, runs in results.items():
        val = np.array([m["val_accuracy"] for m in runs])
        test = np.array([m["test_accuracy"] for m in runs])
        speed = statistics.mean(m["train_images_per_second"] for m in runs)
        difference = ""
        if components != reference:
            differences = val - reference_val
            mean, (low, high) = differences.mean(), stats.ttest_1samp(differences, 0).confidence_interval(0.95)
            difference = f"{100 * mean:+.2f} [{100 * low:+.2f}, {100 * high:+.2f}]"
        lines.append(
            f"| {components or 'full (0)'} | {100 * val.mean():.2f} ± {100 * val.std(ddof=1):.2f} | "
            f"{100 * test.mean():.2f} ± {100 * test.std(ddof=1):.2f} | {difference} | "
            f"{max(m['best_epoch'] for m in runs)} / {statistics.mean(m['epochs'] for m in runs):.0f} | "
            f"{speed:,.0f} | {speed / reference_speed:.2f} |"
        )
    arguments.output.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
