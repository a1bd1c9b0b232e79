"""Training throughput of the teacher CNN or the MLP under batch size, XLA, steps per execution and threads.

    python bench/throughput.py mlp                 # batch 128/256/512 × XLA off/on × 1/16 steps per execution
    python bench/throughput.py teacher             # batch 128/256/512 × XLA off/on
    python bench/throughput.py threads 2 1         # the teacher at batch 256 with intra 2, inter 1 threads (0: default)
    python bench/throughput.py predict             # the teacher's inference at batch 128 … 4096, three rounds

Random 28×28 inputs (throughput does not depend on the pixels); one warm-up fit per setting
traces the graph, then a timed fit. Prints images per second, one line per setting.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from distillation.models import build_mlp, build_teacher  # noqa: E402

IMAGES = 8192


def images_per_second(model: keras.Model, batch: int, jit: bool, steps: int, epochs: int) -> float:
    rng = np.random.default_rng(0)
    images, labels = rng.random((IMAGES, 28, 28, 1), dtype=np.float32), rng.integers(0, 26, IMAGES)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile=jit, steps_per_execution=steps)
    model.fit(images[: batch * steps * 2], labels[: batch * steps * 2], batch_size=batch, epochs=1, verbose=0)
    started = time.perf_counter()
    model.fit(images, labels, batch_size=batch, epochs=epochs, verbose=0)
    return IMAGES * epochs / (time.perf_counter() - started)


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "mlp"
    if which == "predict":
        images = np.random.default_rng(0).random((IMAGES, 28, 28, 1), dtype=np.float32)
        teacher = build_teacher(26)
        for round_number in range(3):  # interleaved rounds: noise on a shared machine shows as spread
            for batch in (128, 256, 512, 1024, 4096):
                teacher.predict(images[:batch], batch_size=batch, verbose=0)
                started = time.perf_counter()
                teacher.predict(images, batch_size=batch, verbose=0)
                print(f"round {round_number} predict batch={batch}: {IMAGES / (time.perf_counter() - started):.0f} img/s", flush=True)
        return
    if which == "threads":
        intra, inter = (int(value) for value in sys.argv[2:4])
        if intra:
            tf.config.threading.set_intra_op_parallelism_threads(intra)
        if inter:
            tf.config.threading.set_inter_op_parallelism_threads(inter)
        keras.utils.set_random_seed(0)
        print(f"teacher batch=256 intra={intra} inter={inter}: {images_per_second(build_teacher(26, 0.25), 256, False, 1, 2):.0f} img/s")
        return
    for batch in (128, 256, 512):
        for jit in (False, True):
            for steps in ((1,) if which == "teacher" else (1, 16)):
                keras.utils.set_random_seed(0)
                model = build_teacher(26, 0.25) if which == "teacher" else build_mlp(26)
                rate = images_per_second(model, batch, jit, steps, epochs=2 if which == "teacher" else 6)
                print(f"{which} batch={batch} jit={jit} steps_per_execution={steps}: {rate:.0f} img/s", flush=True)


if __name__ == "__main__":
    main()
