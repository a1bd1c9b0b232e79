"""Training throughput of the teacher CNN or the MLP under batch size, XLA, steps per execution and threads.

    python bench/throughput.py mlp                 # batch 128/256/512 × XLA off/on × 1/16 steps per execution
    python bench/throughput.py teacher             # batch 128/256/512 × XLA off/on
    python bench/throughput.py threads 2 1         # the teacher at batch 256 with intra 2, inter 1 threads (0: default)
    python bench/throughput.py predict             # the teacher's inference at batch 128 … 4096, three rounds
    python bench/throughput.py all --output bench/results-throughput.md   # each of them, one table

Random 28×28 inputs (throughput does not depend on the pixels); one warm-up fit per setting
traces the graph, then a timed fit. Prints images per second, one line per setting; ``all`` runs
each kind in its own process (thread settings must be made before TensorFlow starts) and writes
the table with the machine to ``--output``, which docs/speed.md renders.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

IMAGES = 8192
RESULT = "RESULT "  # the prefix of a measured line, read back by `all`
THREAD_SETTINGS = ((0, 0), (2, 1), (1, 1))


def images_per_second(model, batch: int, jit: bool, steps: int, epochs: int) -> float:
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    images, labels = rng.random((IMAGES, 28, 28, 1), dtype=np.float32), rng.integers(0, 26, IMAGES)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile=jit, steps_per_execution=steps)
    model.fit(images[: batch * steps * 2], labels[: batch * steps * 2], batch_size=batch, epochs=1, verbose=0)
    started = time.perf_counter()
    model.fit(images, labels, batch_size=batch, epochs=epochs, verbose=0)
    return IMAGES * epochs / (time.perf_counter() - started)


def report(model: str, setting: str, rate: float) -> None:
    print(f"{RESULT}{model} | {setting} | {rate:.0f}", flush=True)


def measure(which: str, intra: int = 0, inter: int = 0) -> None:
    """Print one RESULT line per setting of ``which``."""
    import keras
    import numpy as np
    import tensorflow as tf

    from distillation.models.networks import build_mlp, build_teacher

    if which == "predict":
        images = np.random.default_rng(0).random((IMAGES, 28, 28, 1), dtype=np.float32)
        teacher = build_teacher(26)
        for round_number in range(3):  # interleaved rounds: noise on a shared machine shows as spread
            for batch in (128, 256, 512, 1024, 4096):
                teacher.predict(images[:batch], batch_size=batch, verbose=0)
                started = time.perf_counter()
                teacher.predict(images, batch_size=batch, verbose=0)
                report("teacher CNN, inference", f"round {round_number + 1}, batch {batch}",
                       IMAGES / (time.perf_counter() - started))
        return
    if which == "threads":
        if intra:
            tf.config.threading.set_intra_op_parallelism_threads(intra)
        if inter:
            tf.config.threading.set_inter_op_parallelism_threads(inter)
        keras.utils.set_random_seed(0)
        setting = "TensorFlow's default threads" if not (intra or inter) else f"intra {intra}, inter {inter} threads"
        report("teacher CNN", f"batch 256, {setting}", images_per_second(build_teacher(26, 0.25), 256, False, 1, 2))
        return
    for batch in (128, 256, 512):
        for jit in (False, True):
            for steps in ((1,) if which == "teacher" else (1, 16)):
                keras.utils.set_random_seed(0)
                model = build_teacher(26, 0.25) if which == "teacher" else build_mlp(26)
                rate = images_per_second(model, batch, jit, steps, epochs=2 if which == "teacher" else 6)
                report("teacher CNN" if which == "teacher" else "MLP",
                       f"batch {batch}, XLA {'on' if jit else 'off'}, {steps} steps per execution", rate)


def measure_all(output: Path) -> None:
    """Each kind in its own process, one table of every RESULT line, written with the machine."""
    from distillation.machine import machine_kind

    runs = [["teacher"], ["mlp"], *(["threads", str(intra), str(inter)] for intra, inter in THREAD_SETTINGS), ["predict"]]
    rows = []
    for run in runs:
        finished = subprocess.run([sys.executable, __file__, *run], capture_output=True, text=True, check=True)
        measured = [line[len(RESULT):] for line in finished.stdout.splitlines() if line.startswith(RESULT)]
        print("\n".join(measured), flush=True)
        rows += measured
    output.write_text(
        "# Training and inference throughput\n\n`python bench/throughput.py all`: random 28×28 inputs, "
        f"{IMAGES:,} images per timed fit after a warm-up fit, one process at a time on {os.cpu_count()} cores "
        f"({machine_kind()}); single short runs, so about ±15 % is noise; the machine's load average over the last "
        f"15 minutes at the end {os.getloadavg()[2]:.1f} (above 2: other jobs shared the cores).\n\n"
        "| model | setting | img/s |\n|---|---|---:|\n" + "".join(f"| {row} |\n" for row in rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="?", default="mlp", choices=("mlp", "teacher", "threads", "predict", "all"))
    parser.add_argument("threads", nargs="*", type=int, help="for threads: intra and inter (0: TensorFlow's default)")
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / "bench" / "results-throughput.md", help="for all")
    arguments = parser.parse_args()
    if arguments.which == "all":
        measure_all(arguments.output)
    else:
        measure(arguments.which, *(arguments.threads + [0, 0])[:2])


if __name__ == "__main__":
    main()
