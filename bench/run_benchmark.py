"""Benchmark the whole pipeline under several training recipes, side by side in one run.

    python bench/run_benchmark.py                       # full size: 4,800 train + 800 test per class
    python bench/run_benchmark.py --scale 0.1           # a tenth of that, to try the script out
    python bench/run_benchmark.py --source ../shared/data/emnist-byclass-letters.mat --recipes today,new
    python bench/run_benchmark.py --original            # the original procedure alone
    python bench/run_benchmark.py --default --recipes float32,new   # the first `dvc repro`: all float32 and as shipped
    python bench/run_benchmark.py --default --recipes at-3a04ab8,new   # the project as it was at a commit, and today's
    python bench/run_benchmark.py --source ../shared/data/emnist-byclass-letters.mat --recipes new,mixed

Recipes: ``original`` (the three Keras scripts: Adadelta at Keras 2's learning rate, fixed
epochs), ``today`` (the recipe shipped until the one-cycle schedule: Adam, halve the rate on a
val plateau, batch 128), ``float32`` (``params.yaml`` with every model in float32, the default
until 0.8.0), ``new`` (``params.yaml`` as it is), ``mixed`` (``new`` with every model trained in
mixed bfloat16: ``bench/precision_benchmark.py`` has the per-model figures) and ``auto``. The data are made once — the
synthetic generator at EMNIST-letters size, or ``--source`` — and every recipe runs every stage
on that same file in its own temporary copy of the project, one process per stage as DVC runs
them, timed with its peak resident memory. The last recipe then times a no-op ``dvc repro`` and
``dvc exp run -S distill.temp=7``. Prints a Markdown table with each stage's time and each
model's test accuracy per recipe and the ratios to the first recipe, and writes it to
``bench/results-<label>.md`` (``-mixed`` at its end when ``mixed`` ran).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from distillation.experiments.scratch import (  # noqa: E402
    COPIED, PROJECT_ROOT as PROJECT, copy_project, environment, init_git_repository, merge,
)

def pipeline_stages() -> dict[str, list[str]]:
    """Every stage of ``dvc.yaml``, in its order, with its command: the pipeline ``dvc repro`` runs."""
    import yaml

    stages = yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"]
    return {name: stage["cmd"].split() for name, stage in stages.items()}


STAGES = tuple(pipeline_stages())
TRAINING_STAGES = {"train_teacher": "teacher", "train_baseline": "baseline", "train_student": "student"}
ONE_STEP_PLATEAU = {"schedule": "plateau", "warmup_epochs": 0, "steps_per_execution": 1, "batch_size": 128, "min_steps": 0}
# The original three Keras scripts: Adadelta at Keras 2's learning rate, fixed epochs.
ORIGINAL = {
    "teacher": {**ONE_STEP_PLATEAU, "optimizer": "adadelta", "learning_rate": 1.0, "early_stopping": False, "epochs": 26},
    "baseline": {**ONE_STEP_PLATEAU, "optimizer": "adadelta", "learning_rate": 1.0, "early_stopping": False, "epochs": 50},
    "distill": {**ONE_STEP_PLATEAU, "optimizer": "adadelta", "learning_rate": 1.0, "early_stopping": False, "epochs": 50},
}
# The recipe shipped before the one-cycle schedule (commit bbcc5b9): Adam at 1e-3, halved on a val
# plateau, early stopping (patience 3 for the teacher, 10 for every MLP, caps 20 and 100).
_ADAM = {**ONE_STEP_PLATEAU, "optimizer": "adam", "learning_rate": 0.001, "early_stopping": True}
TODAY = {
    "teacher": {**_ADAM, "epochs": 20, "patience": 3},
    "baseline": {**_ADAM, "epochs": 100, "patience": 10},
    "distill": {**_ADAM, "epochs": 100, "patience": 10},
}
# Today's recipe with every model trained in mixed bfloat16 (on CPUs with AMX or AVX512-BF16).
MIXED = {section: {"precision": "mixed_bfloat16"} for section in ("teacher", "baseline", "distill")}
AUTO = {section: {"precision": "auto"} for section in ("teacher", "baseline", "distill")}
# params.yaml as shipped until 0.8.0: every model in float32 (the default is `auto` since).
FLOAT32 = {section: {"precision": "float32"} for section in ("teacher", "baseline", "distill")}
RECIPES = {"original": ORIGINAL, "today": TODAY, "float32": FLOAT32, "new": {}, "mixed": MIXED, "auto": AUTO}
# A recipe named at-<commit> is the project as committed there, code and params.yaml alike: the
# pipeline a user had then, timed beside today's in the same run.
AT_COMMIT = "at-"


def known_recipe(name: str) -> bool:
    if not name.startswith(AT_COMMIT):
        return name in RECIPES
    found = subprocess.run(["git", "rev-parse", "--verify", "-q", name[len(AT_COMMIT):] + "^{commit}"], cwd=PROJECT,
                           capture_output=True, text=True)
    return found.returncode == 0


def copy_committed_project(directory: Path, commit: str) -> None:
    """The pipeline's code and config as committed at ``commit`` (those of :data:`COPIED` it has)."""
    listed = subprocess.run(["git", "ls-tree", "--name-only", commit], cwd=PROJECT, check=True, capture_output=True, text=True)
    names = [name for name in (*COPIED, "comparison.yaml") if name in listed.stdout.split()]
    archive = subprocess.run(["git", "archive", commit, *names], cwd=PROJECT, check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(directory)], input=archive.stdout, check=True)


def timed(command: list[str], cwd: Path, log: Path) -> tuple[float, float]:
    """Run ``command``; return its wall seconds and peak resident memory in MB."""
    started = time.perf_counter()
    with log.open("a") as output:
        process = subprocess.Popen(command, cwd=cwd, env=environment(), stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-15:])
        sys.exit(f"{tail}\nerror: `{' '.join(command[1:])}` failed in the benchmark's scratch copy (log tail above)")
    return seconds, usage.ru_maxrss / 1024  # Linux reports kilobytes


def make_data(scale: float, output: Path) -> float:
    """Write the synthetic letters at ``scale`` × EMNIST-letters size to ``output``; return the seconds it took."""
    sys.path.insert(0, str(PROJECT))
    from distillation.config.params import load_params
    from stages.source import materialise_source

    sizes = {"train_per_class": max(2, round(4800 * scale)), "test_per_class": max(1, round(800 * scale))}
    started = time.perf_counter()
    params = load_params(PROJECT / "params.yaml")
    materialise_source(params.data.changed(source="synthetic", synthetic=sizes), params.seed, output)
    return time.perf_counter() - started


def image_counts(directory: Path) -> dict[str, int]:
    import numpy as np

    counts = {}
    for split in ("train", "val", "test"):
        with np.load(directory / "data" / "prepared" / f"{split}.npz", allow_pickle=False) as contents:
            counts[split] = int(contents["labels"].shape[0])
    return counts


def run_recipe(name: str, source: Path | None, directory: Path, time_experiments: bool) -> dict:
    """Every stage of the pipeline under recipe ``name`` on ``source`` (None: params.yaml's own data), in ``directory``."""
    if name.startswith(AT_COMMIT):
        if source is not None:
            raise ValueError(f"{name}: a committed project runs on its own params.yaml's data (use --default)")
        copy_committed_project(directory, name[len(AT_COMMIT):])
    else:
        copy_project(directory, merge({"data": {"source": str(source)}}, RECIPES[name]) if source else RECIPES[name])
    init_git_repository(directory)
    log = directory / "bench.log"
    result: dict = {"stages": {}, "models": {}, "startup": {}}
    for stage, command in pipeline_stages().items():
        module = command[2]  # python -m stages.<name> [argument]
        seconds, peak_mb = timed([sys.executable, *command[1:]], directory, log)
        result["stages"][stage] = (seconds, peak_mb)
        # The stage's start-up: a fresh interpreter importing its module (TensorFlow for most), no work.
        result["startup"][stage], _ = timed([sys.executable, "-c", f"import {module}"], directory, log)
        print(f"{name} {stage}: {seconds:.1f} s ({result['startup'][stage]:.1f} s start-up), peak {peak_mb:.0f} MB",
              file=sys.stderr, flush=True)
    result["counts"] = image_counts(directory)
    for model in TRAINING_STAGES.values():
        result["models"][model] = json.loads((directory / "metrics" / f"{model}.json").read_text())
    if time_experiments:
        subprocess.run([sys.executable, "-m", "dvc", "commit", "-f", "-q"], cwd=directory, check=True, env=environment())
        subprocess.run(["git", "add", "-A"], cwd=directory, check=True)
        subprocess.run(["git", "commit", "-qm", "bench"], cwd=directory, check=True)
        result["noop"], _ = timed([sys.executable, "-m", "dvc", "repro"], directory, log)
        result["experiment"], _ = timed([sys.executable, "-m", "dvc", "exp", "run", "-S", "distill.temp=7"], directory, log)
    return result


def table(results: dict[str, dict], data_line: str) -> str:
    names = list(results)
    first = names[0]
    ratio_header = "".join(f" | {name} / {first}" for name in names[1:])
    lines = [data_line, "", f"| stage | {' | '.join(f'{name} s' for name in names)}{ratio_header} | start-up s ({names[-1]}) "
             f"| own work s ({names[-1]}) | peak RSS MB ({names[-1]}) |", "|---|" + "---:|" * (2 * len(names) + 2)]
    totals = {name: sum(seconds for seconds, _ in results[name]["stages"].values()) for name in names}
    for stage in STAGES:
        seconds = {name: results[name]["stages"][stage][0] for name in names}
        cells = " | ".join(f"{seconds[name]:.1f}" for name in names)
        ratios = "".join(f" | {seconds[name] / seconds[first]:.2f}" for name in names[1:])
        last, startup = results[names[-1]], results[names[-1]]["startup"][stage]
        lines.append(f"| {stage} | {cells}{ratios} | {startup:.1f} | {max(0.0, last['stages'][stage][0] - startup):.1f} | "
                     f"{last['stages'][stage][1]:,.0f} |")
    cells = " | ".join(f"**{totals[name]:.0f}** ({totals[name] / 60:.1f} min)" for name in names)
    ratios = "".join(f" | **{totals[name] / totals[first]:.2f}**" for name in names[1:])
    startup_total = sum(results[names[-1]]["startup"].values())
    lines += [f"| **whole pipeline** | {cells}{ratios} | {startup_total:.0f} | {totals[names[-1]] - startup_total:.0f} | |", "",
              f"| model | {' | '.join(f'{name}: test (val), epochs (best)' for name in names)} |", "|---|" + "---:|" * len(names)]
    for model in TRAINING_STAGES.values():
        cells = " | ".join(
            f"{100 * m['test_accuracy']:.2f} % ({100 * m['val_accuracy']:.2f} %), {m['epochs']} ({m['best_epoch']})"
            for m in (results[name]["models"][model] for name in names)
        )
        lines.append(f"| {model} | {cells} |")
    last = results[names[-1]]
    lines += [
        "",
        f"- `{names[-1]}`: no-op `dvc repro` {last['noop']:.2f} s; `dvc exp run -S distill.temp=7` (train_student and what "
        f"reads the student: evaluate, export) {last['experiment']:.1f} s",
        "- each stage run as DVC runs it, one process each (its command in `dvc.yaml`); start-up: the same interpreter only "
        "importing the stage's module; own work: the rest (a stage that imports TensorFlow only once it has a model to "
        "run, train_teacher and view_targets, counts that import as work)",
        f"- machine: {os.cpu_count()} CPU cores ({cpu_model()}); Python {sys.version.split()[0]}",
        "",
    ]
    return "\n".join(lines)


def cpu_model() -> str:
    """This CPU's model and widest vector extension, as every other figure of the project names it."""
    sys.path.insert(0, str(PROJECT))
    from distillation.machine import machine_kind

    return machine_kind()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full EMNIST-letters size (synthetic data)")
    parser.add_argument("--source", type=Path, help="an EMNIST .mat file to run on instead of synthetic letters")
    parser.add_argument("--recipes", default="original,today,new",
                        help="comma-separated, from: " + ", ".join(RECIPES) + ", or at-<commit> (the project as committed there)")
    parser.add_argument("--original", action="store_true", help="the original procedure alone (--recipes original)")
    parser.add_argument("--default", action="store_true",
                        help="params.yaml's own data, as a newcomer's first `dvc repro` runs it (no --scale, no --source)")
    arguments = parser.parse_args()
    recipes = ["original"] if arguments.original else [name.strip() for name in arguments.recipes.split(",")]
    unknown = [name for name in recipes if not known_recipe(name)]
    if unknown:
        sys.exit(f"error: --recipes: unknown recipe {unknown[0]!r}; choose from {', '.join(RECIPES)} or at-<commit>")
    if not 0 < arguments.scale <= 1:
        sys.exit("error: --scale must be in (0, 1]")
    if arguments.source is not None and not arguments.source.is_file():
        sys.exit(f"error: --source {arguments.source}: no such file")
    with tempfile.TemporaryDirectory(prefix="kd-bench-") as scratch:
        if arguments.default:
            source, origin, label = None, "params.yaml's own data (the first `dvc repro`)", "side-by-side-default"
        elif arguments.source is None:
            source = Path(scratch) / "letters.mat"
            generated = make_data(arguments.scale, source)
            origin = f"synthetic letters at scale {arguments.scale:g} (generated once in {generated:.0f} s)"
            label = "side-by-side" + ("" if arguments.scale == 1 else f"-scale{arguments.scale:g}")
        else:
            source = arguments.source.resolve()
            origin = f"`{arguments.source.name}`"
            label = f"side-by-side-{arguments.source.stem}"
        if "mixed" in recipes:
            label += "-mixed"
        results = {}
        for index, name in enumerate(recipes):
            directory = Path(scratch) / name
            directory.mkdir()
            results[name] = run_recipe(name, source, directory, time_experiments=index == len(recipes) - 1)
    counts = results[recipes[-1]]["counts"]
    data_line = f"## {', '.join(recipes)} on {origin}: {counts['train']:,} train / {counts['val']:,} val / {counts['test']:,} test images"
    text = table(results, data_line)
    (PROJECT / "bench" / f"results-{label}.md").write_text(text)
    # The totals as data, for the README's line on the first `make repro` (a `first-run` block).
    totals = {name: round(sum(seconds for seconds, _ in result["stages"].values()), 1) for name, result in results.items()}
    (PROJECT / "bench" / f"results-{label}.json").write_text(json.dumps(
        {"recipes": recipes, "seconds": totals, "cores": os.cpu_count(), "machine": cpu_model(),
         "command": "python bench/run_benchmark.py " + " ".join(sys.argv[1:])}, indent=1) + "\n")
    print(text)


if __name__ == "__main__":
    main()
