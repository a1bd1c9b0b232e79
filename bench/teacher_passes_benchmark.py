"""The teacher's passes over the data (soft_targets, view_targets): which way to run them, measured.

    python bench/teacher_passes_benchmark.py                                         # prints the table
    python bench/teacher_passes_benchmark.py --output bench/results-teacher-passes.md  # and writes it

Runs the pipeline's trained teacher (``models/teacher.keras``) over every prepared image
(``data/prepared``: train, val and test, as ``soft_targets`` does) each way in turn — Keras in
float32, Keras in bfloat16 (where the CPU computes it; :func:`distillation.training.precision.computing_in`),
and ONNX Runtime on the teacher exported to ONNX — at two batch sizes, several alternating
rounds, and reports each way's median seconds and images per second beside how far its logits
are from Keras's float32 ones (the largest difference, and the share of images given the same class).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

BATCHES = (256, 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", type=Path, default=PROJECT_ROOT / "models" / "teacher.keras")
    parser.add_argument("--prepared", type=Path, default=PROJECT_ROOT / "data" / "prepared")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path)
    arguments = parser.parse_args()

    import numpy as np

    from side_by_side import alternating_medians, machine_and_load, publish  # a sibling module
    from distillation.data.prepared import load_prepared
    from distillation.export.runtimes import OnnxRunner
    from distillation.machine import cpu_model_and_flags
    from distillation.models.files import load_model
    from distillation.training.precision import BFLOAT16_CPU_FLAGS, computing_in

    splits = load_prepared(arguments.prepared)
    images = np.concatenate([split.images for split in splits.values()])
    teacher = load_model(arguments.teacher)
    threads = os.cpu_count() or 1
    ways = {f"Keras, float32, batch {batch}": (lambda batch=batch: teacher.predict(images, batch_size=batch, verbose=0))
            for batch in BATCHES}
    if any(flag in cpu_model_and_flags()[1] for flag in BFLOAT16_CPU_FLAGS):
        fast = computing_in(teacher, "mixed_bfloat16")
        ways |= {f"Keras, bfloat16, batch {batch}": (lambda batch=batch: fast.predict(images, batch_size=batch, verbose=0))
                 for batch in BATCHES}
    scratch = Path(tempfile.mkdtemp(prefix="teacher-passes-"))
    teacher(images[:1], training=False)  # Keras exports only a model that has been called
    teacher.export(str(scratch / "teacher.onnx"), format="onnx", verbose=False)
    runner = OnnxRunner(scratch / "teacher.onnx", threads)

    def onnx_runtime(batch: int):
        return np.concatenate([runner.forward(np.ascontiguousarray(images[start:start + batch], dtype=np.float32))
                               for start in range(0, len(images), batch)])

    ways |= {f"ONNX Runtime, float32, batch {batch}": (lambda batch=batch: onnx_runtime(batch)) for batch in BATCHES}

    # each way's first pass traces, allocates and warms up outside the timing, and gives its logits
    logits = {way: np.asarray(run(), np.float32) for way, run in ways.items()}
    reference_way = f"Keras, float32, batch {BATCHES[-1]}"
    reference = logits[reference_way]

    def seconds(way: str) -> float:
        started = time.perf_counter()
        ways[way]()
        return time.perf_counter() - started

    median = alternating_medians(ways, arguments.rounds, seconds, "s")
    rows = []
    for way in ways:
        difference = float(np.max(np.abs(logits[way] - reference)))
        same_class = float(np.mean(logits[way].argmax(axis=1) == reference.argmax(axis=1)))
        rows.append(f"| {way} | {median[way]:.2f} | {len(images) / median[way]:,.0f} | {median[reference_way] / median[way]:.2f} | "
                    f"{difference:.4f} | {100 * same_class:.2f} % |")
    publish("The teacher's passes over the data",
            ["way", f"s for {len(images):,} images", "images/s", f"speed-up over Keras float32 at batch {BATCHES[-1]}",
             "largest logit difference from Keras float32", "same class as Keras float32"], 1, rows,
            f"the pipeline's trained teacher over every prepared image (train, val and test); median of {arguments.rounds} "
            f"alternating rounds after an untimed pass each; its float32 logits reach {float(np.max(np.abs(reference))):.1f} "
            f"in size; one process on {machine_and_load()}", arguments.output)


if __name__ == "__main__":
    main()
