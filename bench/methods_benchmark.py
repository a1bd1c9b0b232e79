"""Student training throughput per method, and stored logits against a teacher run live.

    python bench/methods_benchmark.py [--mat PATH] [--epochs 4] [--rounds 3] [--output bench/results-methods.md]

On ``--mat`` (default: the real 58,405-letter file in ../shared/data) it trains each method's
trainer exactly as ``train_student`` builds it, for ``--epochs`` epochs with no early stopping,
and times every epoch after the first (which includes tracing); all variants run in
``--rounds`` interleaved rounds in one process, and each keeps its fastest epoch. Then, side by
side: a KD epoch on the stored logits against the same epoch with the teacher computed inside
every training step by Keras's own ``keras.distillation.Distiller``. The teacher is freshly
initialised, not trained: only speed is measured here, and the teacher's cost per image does
not depend on its weights. Prints a Markdown table and writes it to ``--output``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402

from distillation.data.emnist import read_emnist_mat  # noqa: E402
from distillation.methods import METHODS  # noqa: E402
from distillation.models.networks import build_teacher  # noqa: E402
from distillation.config.params import load_params  # noqa: E402
from distillation.data.splitting import prepare_splits  # noqa: E402
from distillation.training.fit import configure_runtime, make_optimizer  # noqa: E402
from distillation.targets.ensemble import teacher_outputs  # noqa: E402
from distillation.training.student import build_trainer, method_teacher_outputs, student_targets  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REAL_MAT = PROJECT_ROOT.parent / "shared" / "data" / "emnist-byclass-letters.mat"
LIVE = "kd, teacher computed live (keras.distillation.Distiller)"


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)


def images_per_second(model: keras.Model, images, targets, epochs: int, batch_size: int) -> float:
    """Training images per second in the fastest epoch after the first (which includes tracing).

    The fastest, not the median: on a shared machine other load only ever slows an epoch down,
    so the fastest one is the least disturbed measurement of the method's own cost.
    """
    timer = EpochTimer()
    model.fit(images, targets, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0, callbacks=[timer])
    return len(images) / min(timer.seconds[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mat", type=Path, default=REAL_MAT)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; each variant's best is kept")
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / "bench" / "results-methods.md")
    arguments = parser.parse_args()
    params = load_params(PROJECT_ROOT / "params.yaml")
    settings = params.distill.changed(early_stopping=False)
    hidden_units = params.baseline.hidden_units
    if not arguments.mat.is_file():
        raise SystemExit(f"--mat {arguments.mat}: file not found (the real file lives in ../shared/data)")
    dataset, source = read_emnist_mat(arguments.mat), arguments.mat.name
    splits = prepare_splits(dataset, params.data.val_fraction, params.seed)
    train = splits["train"]
    configure_runtime(params.seed)
    teacher_model = build_teacher(len(train.classes))
    logits, hidden = teacher_outputs(teacher_model, splits)
    stored = {"logits": logits, "hidden": hidden}

    from keras.distillation import Distiller, LogitsDistillation


    def method_variant(method: str):
        def build():
            teacher = method_teacher_outputs({kind: stored[kind] for kind in METHODS[method].teacher_outputs},
                                             settings.changed(method=method))
            trainer = build_trainer(splits, teacher, settings.changed(method=method), hidden_units)
            return trainer, student_targets(splits, teacher, "train")
        return build

    def live_teacher_variant():
        # The same KD epoch with the teacher run inside every step, as Keras's own Distiller does.
        student = build_trainer(splits, {"logits": logits}, settings.changed(method="kd"), hidden_units).student
        live = Distiller(teacher=teacher_model, student=student,
                         distillation_losses=LogitsDistillation(temperature=settings.temp), student_loss_weight=settings.lambda_)
        live.compile(optimizer=make_optimizer(settings), loss="sparse_categorical_crossentropy")
        return live, train.labels

    variants = {method: method_variant(method) for method in METHODS}
    variants[LIVE] = live_teacher_variant
    # Interleaved rounds, fastest epoch of each: the first runs in a process are slower (warm-up),
    # and the machine is shared; the fastest epoch is the least disturbed one.
    speeds: dict[str, float] = {}
    for round_number in range(arguments.rounds):
        for name, build in variants.items():
            configure_runtime(params.seed)
            model, targets = build()
            speed = images_per_second(model, train.images, targets, arguments.epochs, settings.batch_size)
            speeds[name] = max(speeds.get(name, 0.0), speed)
            print(f"round {round_number + 1}: {name}: {speed:,.0f} training images/s (fastest epoch)", flush=True)
    rows = [(name, speed) for name, speed in speeds.items() if name != LIVE]
    live_speed, stored_speed = speeds[LIVE], speeds["kd"]

    lines = [
        f"# Student training throughput per method ({source}, {len(train.labels):,} training images)",
        "",
        f"`python bench/methods_benchmark.py --epochs {arguments.epochs} --rounds {arguments.rounds}` — fastest of epochs 2..{arguments.epochs}, batch "
        f"{settings.batch_size}, one process; {arguments.rounds} interleaved rounds over all variants, fastest "
        f"epoch of each; {os.cpu_count()} CPU cores.",
        "",
        "| method | training images/s | relative to kd |",
        "|---|---:|---:|",
        *[f"| {method} | {speed:,.0f} | {speed / stored_speed:.2f} |" for method, speed in rows],
        f"| {LIVE} | {live_speed:,.0f} | {live_speed / stored_speed:.2f} |",
        "",
        f"Stored logits make a KD epoch **{stored_speed / live_speed:.1f}×** as fast as running the teacher in "
        "every step (measured side by side in this run).",
    ]
    arguments.output.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
