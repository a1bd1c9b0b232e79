"""Mixed precision against float32 on the real letters: speed and accuracy of each model, side by side.

    python bench/precision_benchmark.py                              # mixed_bfloat16 vs float32, 2 teacher and 3 MLP seeds
    python bench/precision_benchmark.py --precision mixed_float16    # on a GPU
    python bench/precision_benchmark.py --source FILE.mat --teacher-seeds 1 --mlp-seeds 1 --epochs 1 --output /tmp/x.md

Trains the teacher, the MLP alone and a KD student (today's params otherwise) with each precision,
the two back to back for every seed, so a shared machine's drift falls on both alike. The KD
students learn from the first float32 teacher's outputs, computed in float32 (``soft_targets``
runs the teacher at its own training's precision), so the students differ only in their own precision. Prints and writes, per model and
precision: training img/s, wall seconds, val and test accuracy as mean ± sd over the seeds, and
the mixed / float32 speed ratio, with the CPU's model and flags. The whole pipeline's time with
either precision: ``python bench/run_benchmark.py --source FILE --recipes new,mixed``.

On a CPU without AMX or AVX512-BF16, bfloat16 is emulated and the stages refuse it; set
``DISTILLATION_ALLOW_EMULATED_PRECISION=1`` to measure the emulation anyway.
"""
from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))
os.chdir(PROJECT_ROOT)

from distillation.data.emnist import read_emnist_mat  # noqa: E402
from distillation.machine import cpu_model_and_flags  # noqa: E402
from distillation.config.params import load_params  # noqa: E402
from distillation.data.splitting import prepare_splits  # noqa: E402

DEFAULT_SOURCE = PROJECT_ROOT.parent / "shared" / "data" / "emnist-byclass-letters.mat"
FLAGS_OF_INTEREST = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")


def spread(values: list[float]) -> str:
    mean = statistics.fmean(values)
    return f"{100 * mean:.2f} ± {100 * statistics.stdev(values):.2f} %" if len(values) > 1 else f"{100 * mean:.2f} %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", default="mixed_bfloat16", choices=("mixed_bfloat16", "mixed_float16"))
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--teacher-seeds", type=int, default=2)
    parser.add_argument("--mlp-seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, help="every model's epochs instead of params.yaml's (a quick check)")
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / "bench" / "results-precision.md")
    arguments = parser.parse_args()
    if not arguments.source.is_file():
        sys.exit(f"error: --source {arguments.source}: no such file")

    from distillation.targets.ensemble import teacher_outputs
    from stages.train_baseline import train_baseline
    from stages.train_student import train_student
    from stages.train_teacher import train_teacher

    params = load_params()
    splits = prepare_splits(read_emnist_mat(arguments.source), params.data.val_fraction, params.seed)
    precisions = ("float32", arguments.precision)

    def section(name: str, precision: str, **more: object):
        overrides = {"precision": precision, **({"epochs": arguments.epochs, "warmup_epochs": 0} if arguments.epochs else {})}
        return getattr(params, name).changed(**overrides, **more)

    measured: dict[tuple[str, str], list[dict]] = {}
    teacher_logits = None
    started = time.perf_counter()
    for seed in range(arguments.teacher_seeds):
        for precision in precisions:
            model, metrics = train_teacher(splits, section("teacher", precision), params.seed + seed)
            measured.setdefault(("teacher", precision), []).append(metrics)
            if teacher_logits is None:  # the first float32 teacher teaches every student
                logits, _ = teacher_outputs(model, splits)
                teacher_logits = {"logits": logits}
            print(f"teacher {precision} seed {seed}: {metrics['train_images_per_second']} img/s, test {metrics['test_accuracy']:.4f}",
                  flush=True)
    for seed in range(arguments.mlp_seeds):
        for precision in precisions:
            _, metrics = train_baseline(splits, section("baseline", precision), params.seed + seed)
            measured.setdefault(("MLP alone", precision), []).append(metrics)
            distill = section("distill", precision, method="kd")
            _, metrics = train_student(splits, teacher_logits, distill, params.baseline.hidden_units, params.seed + seed)
            measured.setdefault(("KD student", precision), []).append(metrics)
            print(f"MLPs {precision} seed {seed}: KD test {metrics['test_accuracy']:.4f}", flush=True)
    total = time.perf_counter() - started

    lines = ["| model | precision | seeds | training img/s | wall s | val | test | img/s vs float32 |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for model in ("teacher", "MLP alone", "KD student"):
        base_rate = statistics.fmean(run["train_images_per_second"] for run in measured[(model, "float32")])
        for precision in precisions:
            runs = measured[(model, precision)]
            rate = statistics.fmean(run["train_images_per_second"] for run in runs)
            lines.append(f"| {model} | {precision} | {len(runs)} | {rate:,.0f} | "
                         f"{statistics.fmean(run['train_seconds'] for run in runs):.0f} | "
                         f"{spread([run['val_accuracy'] for run in runs])} | {spread([run['test_accuracy'] for run in runs])} | "
                         f"{rate / base_rate:.2f} |")
    cpu, flags = cpu_model_and_flags()
    counts = ", ".join(f"{len(splits[name].labels):,} {name}" for name in ("train", "val", "test"))
    text = (f"# Mixed precision against float32\n\n`{shlex.join(['python', 'bench/precision_benchmark.py', *sys.argv[1:]])}`\n\n"
            + "\n".join(lines)
            + f"\n\n- {arguments.source.name}: {counts}; every model's epochs: "
            + (f"{arguments.epochs} (a quick check)" if arguments.epochs else "params.yaml's, with its min_steps")
            + f"; the two precisions back to back per seed; {total / 60:.1f} min in all\n"
            f"- machine: {os.cpu_count()} cores, {cpu}; flags: "
            + ", ".join(f"{flag} {'yes' if flag in flags else 'no'}" for flag in FLAGS_OF_INTEREST)
            + f"; load average over the last 15 minutes at the end {os.getloadavg()[2]:.1f}\n")
    arguments.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
