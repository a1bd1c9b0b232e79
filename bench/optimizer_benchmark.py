"""Adam's update: Keras's own against the project's fused one (one kernel per weight), side by side.

    python bench/optimizer_benchmark.py                                      # prints the table
    python bench/optimizer_benchmark.py --output bench/results-optimizer.md  # and writes it (docs/speed.md)

Each model trains on random inputs of the default data's size with the shipped recipe (its batch,
steps per execution, schedule and precision as ``auto`` resolves it here), fed as the stages feed
it, a val pass after every epoch, once with ``keras.optimizers.Adam`` and once with
:class:`distillation.training.fused_adam.FusedAdam`; several rounds alternate the two so that the
machine's load falls on both alike. The table shows each one's median ms per optimizer step.
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
OPTIMIZERS = ("Keras's Adam", "FusedAdam")


def ms_per_step(model_name: str, optimizer_name: str, params) -> float:
    import keras
    import numpy as np

    from distillation.models.networks import build_mlp, build_teacher
    from distillation.training import fit
    from distillation.training.precision import training_precision

    recipe = params.baseline if model_name == "MLP" else params.teacher
    steps = fit.steps_per_epoch(TRAIN, recipe.batch_size)
    fit.configure_runtime(0)
    rng = np.random.default_rng(0)
    images = rng.random((TRAIN + VAL, 28, 28, 1), dtype=np.float32)
    labels = rng.integers(0, 26, TRAIN + VAL).astype(np.int32)
    with training_precision(recipe.precision, "precision"):
        model = build_mlp(26, 512, 0.0) if model_name == "MLP" else build_teacher(26)
        fit.compile_classifier(model, recipe, steps)
        if optimizer_name == "Keras's Adam":  # the same schedule, Keras's own update
            model.compile(optimizer=keras.optimizers.Adam(fit.learning_rate(recipe, steps)), loss=model.loss,
                          metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
                          steps_per_execution=recipe.steps_per_execution)
        data = {"x": fit.shuffled_batches(images[:TRAIN], labels[:TRAIN], recipe.batch_size),
                "validation_data": fit.ordered_batches(images[TRAIN:], labels[TRAIN:], recipe.batch_size)}
        model.fit(**data, epochs=1, verbose=0)  # traces the graphs
        epochs = EPOCHS[model_name]
        started = time.perf_counter()
        model.fit(**data, epochs=epochs, verbose=0)
        elapsed = time.perf_counter() - started
    keras.backend.clear_session()
    return 1000 * elapsed / (epochs * steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path)
    arguments = parser.parse_args()
    from side_by_side import alternating_medians, machine_and_load, publish  # a sibling module
    from distillation.config.params import load_params
    from distillation.training.precision import precision_here

    params = load_params(PROJECT_ROOT / "params.yaml")
    rows = []
    for model_name in EPOCHS:
        precision = precision_here((params.baseline if model_name == "MLP" else params.teacher).precision, "precision")
        median = alternating_medians(OPTIMIZERS, arguments.rounds,
                                     lambda name, model_name=model_name: ms_per_step(model_name, name, params),
                                     "ms/step", f"{model_name} ")
        keras_adam, fused = (median[name] for name in OPTIMIZERS)
        rows.append(f"| {model_name} | {precision} | {keras_adam:.2f} | {fused:.2f} | {keras_adam / fused:.2f} |")
    publish("Adam's update, Keras's and fused",
            ["model", "precision", "Keras's Adam, ms/step", "FusedAdam, ms/step", "speed-up"], 2, rows,
            f"median of {arguments.rounds} alternating rounds; random inputs of the default data's size, the shipped recipe, "
            f"a val pass after every epoch; one process on {machine_and_load()}", arguments.output)


if __name__ == "__main__":
    main()
