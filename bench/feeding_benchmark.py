"""How the training batches are fed: Keras's own pipeline for NumPy arrays against the project's, side by side.

    python bench/feeding_benchmark.py                                   # prints the table
    python bench/feeding_benchmark.py --output bench/results-feeding.md  # and writes it (docs/speed.md renders it)

Each model trains on random 28×28 inputs of the default data's size (9,360 train, 1,040 val; the
speed does not depend on the pixels) with the shipped recipe's batch and steps per execution, a
val pass after every epoch as in the pipeline, fed two ways in turn: ``numpy`` hands Keras the
arrays (``shuffle=True``; Keras builds its own autotuned tf.data pipeline with prefetch threads),
``quiet`` is :func:`distillation.training.fit.shuffled_batches` and ``ordered_batches`` (the same
rows, no autotuned threads). Several rounds alternate the two so that the machine's load falls
on both alike; the table shows each feed's median ms per optimizer step and the ratio.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

TRAIN, VAL = 9360, 1040
EPOCHS = {"MLP": 20, "teacher CNN": 2}


def ms_per_step(model_name: str, feed: str, params) -> float:
    import keras
    import numpy as np

    from distillation.models.networks import build_mlp, build_teacher
    from distillation.training.fit import compile_classifier, configure_runtime, ordered_batches, shuffled_batches, steps_per_epoch

    recipe = params.baseline if model_name == "MLP" else params.teacher
    recipe = recipe.changed(precision="float32")
    configure_runtime(0)
    rng = np.random.default_rng(0)
    images = rng.random((TRAIN + VAL, 28, 28, 1), dtype=np.float32)
    labels = rng.integers(0, 26, TRAIN + VAL).astype(np.int32)
    train, val = (images[:TRAIN], labels[:TRAIN]), (images[TRAIN:], labels[TRAIN:])
    model = build_mlp(26, 512, 0.0) if model_name == "MLP" else build_teacher(26)
    compile_classifier(model, recipe, steps_per_epoch(TRAIN, recipe.batch_size))
    if feed == "numpy":
        data = {"x": train[0], "y": train[1], "batch_size": recipe.batch_size, "shuffle": True, "validation_data": val}
    else:
        data = {"x": shuffled_batches(*train, recipe.batch_size), "shuffle": False,
                "validation_data": ordered_batches(*val, recipe.batch_size)}
    model.fit(**data, epochs=1, verbose=0)  # traces the graphs
    epochs = EPOCHS[model_name]
    started = time.perf_counter()
    model.fit(**data, epochs=epochs, verbose=0)
    keras.backend.clear_session()
    return 1000 * (time.perf_counter() - started) / (epochs * steps_per_epoch(TRAIN, recipe.batch_size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path)
    arguments = parser.parse_args()
    from side_by_side import alternating_medians, machine_and_load, publish  # a sibling module
    from distillation.config.params import load_params

    params = load_params(PROJECT_ROOT / "params.yaml")
    rows = []
    for model_name in EPOCHS:
        median = alternating_medians(("numpy", "quiet"), arguments.rounds,
                                     lambda feed, model_name=model_name: ms_per_step(model_name, feed, params),
                                     "ms/step", f"{model_name} ")
        rows.append(f"| {model_name} | {median['numpy']:.2f} | {median['quiet']:.2f} | {median['numpy'] / median['quiet']:.2f} |")
    publish("Feeding the training batches",
            ["model", "Keras's pipeline for NumPy arrays, ms/step", "the project's quiet pipeline, ms/step", "speed-up"], 1, rows,
            f"median of {arguments.rounds} alternating rounds; random inputs of the default data's size, a val pass after "
            f"every epoch, float32; one process on {machine_and_load()}", arguments.output)


if __name__ == "__main__":
    main()
