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
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

TRAIN, VAL = 9360, 1040
EPOCHS = {"MLP": 20, "teacher CNN": 2}
OPTIMIZERS = ("Keras's Adam", "FusedAdam")


def ms_per_step(model_name: str, optimizer_name: str, params) -> tuple[float, str]:
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
    with training_precision(recipe.precision, "precision") as precision:
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
    return 1000 * elapsed / (epochs * steps), precision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path)
    arguments = parser.parse_args()
    from run_benchmark import cpu_model  # a sibling module
    from distillation.config.params import load_params

    params = load_params(PROJECT_ROOT / "params.yaml")
    rows = []
    for model_name in EPOCHS:
        times: dict[str, list[float]] = {name: [] for name in OPTIMIZERS}
        for _ in range(arguments.rounds):
            for name in OPTIMIZERS:
                milliseconds, precision = ms_per_step(model_name, name, params)
                times[name].append(milliseconds)
                print(f"{model_name} {name}: {milliseconds:.2f} ms/step ({precision})", file=sys.stderr, flush=True)
        keras_adam, fused = (statistics.median(times[name]) for name in OPTIMIZERS)
        rows.append(f"| {model_name} | {precision} | {keras_adam:.2f} | {fused:.2f} | {keras_adam / fused:.2f} |")
    load = os.getloadavg()[2]
    text = "\n".join([
        "# Adam's update, Keras's and fused", "",
        f"`python bench/optimizer_benchmark.py {' '.join(sys.argv[1:])}`".replace(" `", "`"), "",
        "| model | precision | Keras's Adam, ms/step | FusedAdam, ms/step | speed-up |",
        "|---|---|---:|---:|---:|", *rows, "",
        f"- median of {arguments.rounds} alternating rounds; random inputs of the default data's size, the shipped recipe, "
        f"a val pass after every epoch; one process on {os.cpu_count()} cores ({cpu_model()}); the load average over "
        f"the last 15 minutes at the end {load:.1f}", ""])
    print(text)
    if arguments.output:
        arguments.output.write_text(text)


if __name__ == "__main__":
    main()
