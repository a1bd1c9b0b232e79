"""Try training recipes on real letters in one process: time and accuracy of each, side by side.

    python bench/recipe_search.py teacher '{"schedule": "cosine", "epochs": 4}' '{"batch_size": 256}'
    python bench/recipe_search.py baseline '{"batch_size": 512, "steps_per_execution": 8}'
    python bench/recipe_search.py student '{"epochs": 30, "schedule": "cosine"}'
    python bench/recipe_search.py baseline '{}' --output bench/results-recipe-search-baseline.md

Each JSON argument is laid over the section of today's ``params.yaml`` (``teacher``, ``baseline``
or ``distill``) and trained with the stage's own function on ``--source`` (default: the shared
real letters), split as the pipeline splits it. The student learns from the teacher that the
last ``teacher`` call here saved (``--teacher``), run once over every split before the recipes
(its time is not in theirs). One row per recipe: wall seconds, epochs run
(best), val and test accuracy. Selection among recipes is meant to read val; test is printed
only to report. ``--output`` also writes the table, the command and the machine to a results
file that the docs render (``bench recipe-search-baseline`` in docs/speed.md).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.chdir(Path(__file__).resolve().parents[1])  # params.yaml and the stages' relative paths

from distillation.data.emnist import read_emnist_mat  # noqa: E402
from distillation.machine import machine_kind  # noqa: E402
from distillation.config.params import load_params  # noqa: E402
from distillation.data.splitting import prepare_splits  # noqa: E402

DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "emnist-byclass-letters.mat"
SECTIONS = {"teacher": "teacher", "baseline": "baseline", "student": "distill"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=SECTIONS)
    parser.add_argument("recipes", nargs="+", help="JSON objects laid over the model's params section")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--teacher", type=Path, default=Path("/tmp/recipe-search-teacher.keras"))
    parser.add_argument("--seed", type=int, default=None, help="default: params.yaml's seed")
    parser.add_argument("--output", type=Path, help="also write the table to this results file")
    arguments = parser.parse_args()

    params = load_params()
    seed = params.seed if arguments.seed is None else arguments.seed
    splits = prepare_splits(read_emnist_mat(arguments.source), params.data.val_fraction, params.seed)
    teacher_outputs_by_kind = None
    if arguments.model == "student":  # the teacher runs once, as soft_targets runs it, not once per recipe
        from distillation.models.files import load_model
        from distillation.targets.ensemble import teacher_outputs

        logits, hidden = teacher_outputs(load_model(arguments.teacher), splits)
        teacher_outputs_by_kind = {"logits": logits, "hidden": hidden}
    rows = []
    for recipe in arguments.recipes:
        settings = getattr(params, SECTIONS[arguments.model]).changed(**json.loads(recipe))
        started = time.perf_counter()
        if arguments.model == "teacher":
            from distillation.models.files import save_model
            from stages.train_teacher import train_teacher

            model, metrics = train_teacher(splits, settings, seed)
            save_model(model, arguments.teacher)
        elif arguments.model == "baseline":
            from stages.train_baseline import train_baseline

            _, metrics = train_baseline(splits, settings, seed)
        else:
            from stages.train_student import train_student

            _, metrics = train_student(splits, teacher_outputs_by_kind, settings, params.baseline.hidden_units, seed)
        seconds = time.perf_counter() - started
        rows.append((recipe, seconds, metrics))
        print(f"RESULT {arguments.model} {recipe}: {seconds:.0f} s, {metrics['epochs']} ({metrics['best_epoch']}) epochs, "
              f"val {100 * metrics['val_accuracy']:.2f} %, test {100 * metrics['test_accuracy']:.2f} %", flush=True)
    table = [f"| {arguments.model} recipe (over params.yaml) | wall s | epochs (best) | val | test |", "|---|---:|---:|---:|---:|"]
    table += [f"| `{recipe}` | {seconds:.0f} | {metrics['epochs']} ({metrics['best_epoch']}) | "
              f"{100 * metrics['val_accuracy']:.2f} % | {100 * metrics['test_accuracy']:.2f} % |" for recipe, seconds, metrics in rows]
    print("\n" + "\n".join(table))
    if arguments.output:
        sizes = ", ".join(f"{len(splits[name].labels):,} {name}" for name in ("train", "val", "test"))
        command = shlex.join(["python", "bench/recipe_search.py", *sys.argv[1:]])
        arguments.output.write_text(
            f"# Recipe search: {arguments.model}\n\n`{command}`\n\n" + "\n".join(table)
            + f"\n\n- {arguments.source.name}: {sizes}; seed {seed}; one process on {os.cpu_count()} cores "
            f"({machine_kind()}); wall seconds of the whole training call; the machine's load average over "
            f"the last 15 minutes at the end {os.getloadavg()[2]:.1f} (above 2: other jobs shared the cores)\n")

if __name__ == "__main__":
    main()
