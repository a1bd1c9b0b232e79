"""Tables of a pipeline run's metrics files, for the README's and docs' rendered blocks.

A block ``models DIR`` shows the three models' accuracies from ``DIR/{teacher,baseline,student}.json``;
``exports DIR`` each exported file's size, accuracy, agreement and latency from ``DIR/export.json``
and ``DIR/export_teacher.json``, or ``exports PATTERN`` from the files a pattern with ``{model}``
names (``reports/export/{model}-emnist-byclass-letters.json``: a run on other data, kept apart).
Paths are relative to the project root; ``metrics`` is the committed run on the default data.
``bench NAME`` is what a benchmark wrote to ``bench/results-NAME.md`` (its command, tables and
notes), below that file's own title. ``recipe PARAMS`` is each training section's recipe in a
params file (``params.yaml``). ``route NAME`` is what ``bench/own_data_route.py`` wrote to
``bench/results-NAME.json``: the real letters through your own data's routes. ``first-run NAME``
is the README's two lines on ``make repro``: its data, its time (``bench/results-NAME.json``,
written by ``bench/run_benchmark.py``) and the committed default run's accuracies.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from distillation.config.params import load_params
from distillation.reporting.setting_words import label_in_words

EXPORT_FILES = {"teacher": "export_teacher.json", "student": "export.json"}  # in a metrics folder
FORMATS = {"keras": "Keras", "onnx": "ONNX", "litert": "LiteRT fp32", "litert_int8": "LiteRT int8"}


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ValueError(f"no {path}")
    return json.loads(path.read_text())


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f} %"


def models_table(root: Path, name: str) -> str:
    """Parameters, val and test accuracy of the teacher, the MLP alone and the student in folder ``name``."""
    directory = root / name
    teacher, baseline, student = (_read(directory / f"{name}.json") for name in ("teacher", "baseline", "student"))
    method = "MLP by " + label_in_words(student.get("method", "kd"), student.get("setting", ""))
    lines = ["| model | parameters | val | test |", "|---|---:|---:|---:|"]
    for label, metrics in (("teacher CNN", teacher), ("MLP alone", baseline), (method, student)):
        lines.append(f"| {label} | {metrics['params']:,} | {_percent(metrics['val_accuracy'])} | "
                     f"**{_percent(metrics['test_accuracy'])}** |")
    lines += ["", f"From `{name}/{{teacher,baseline,student}}.json`."]
    return "\n".join(lines) + "\n"


def export_files(root: Path, name: str) -> dict[str, Path]:
    """{model: its export metrics file} for a block's NAME: a metrics folder or a ``{model}`` pattern."""
    if "{model}" in name:
        return {model: root / name.format(model=model) for model in EXPORT_FILES}
    return {model: root / name / file for model, file in EXPORT_FILES.items()}


def exports_table(files: dict[str, Path], root: Path) -> str:
    """Each model's Keras file and exports: bytes, test accuracy, agreement, latency at batch 1 and 256."""
    lines = ["| model, format | bytes | test acc. | agrees with Keras | ms/image, batch 1 | ms/image, batch 256 |",
             "|---|---:|---:|---:|---:|---:|"]
    measured = []
    for model, path in files.items():
        metrics = _read(path)
        measured.append(metrics)
        for kind, label in FORMATS.items():
            entry = metrics[kind]
            agreement = "—" if kind == "keras" else _percent(entry.get("agreement_with_keras"))
            lines.append(f"| {model}, {label} | {entry['bytes']:,} | {_percent(entry.get('test_accuracy'))} | {agreement} | "
                         f"{entry.get('latency_ms_batch_1', '')} | {entry.get('latency_ms_per_image_batch_256', '')} |")
    first = measured[0]
    machine = first.get("machine", "a CPU its files do not record")
    lines += ["", f"{first['test_images']:,} test images, {first['threads']} threads, on {machine}. From "
              + " and ".join(f"`{path.relative_to(root).as_posix()}`" for path in files.values()) + "."]
    return "\n".join(lines) + "\n"


# A path as a benchmark's command line recorded it: absolute, or into the material beside the project.
RECORDED_PATH = re.compile(r"(?<![\w.~])(?:/(?:[\w.-]+/)+|\.\./shared/(?:[\w.-]+/)*)([\w.-]+)")


def portable_paths(text: str) -> str:
    """``text`` with each recorded path shown by its file name alone: where a file was on the
    measuring machine says nothing to a reader (the notes under each table say what it holds)."""
    return RECORDED_PATH.sub(lambda match: match.group(1), text)


def bench_results(root: Path, name: str) -> str:
    """``bench/results-NAME.md`` without its title line (paths as :func:`portable_paths` shows them),
    and where it comes from; a line saying it has not been measured yet while the file does not
    exist (a benchmark that has not run)."""
    path = root / "bench" / f"results-{name}.md"
    if not path.is_file():
        return f"Not measured yet: no `bench/results-{name}.md`.\n"
    body = path.read_text().split("\n", 1)[1].strip("\n")
    return f"{portable_paths(body)}\n\nFrom `bench/results-{name}.md`.\n"


RECIPE_SECTIONS = {"teacher": "teacher CNN", "baseline": "MLP alone", "distill": "every student"}
RECIPE_KEYS = {"optimizer": "optimizer", "schedule": "schedule", "learning_rate": "peak rate", "warmup_epochs": "warm-up epochs",
               "batch_size": "batch", "epochs": "epochs", "min_steps": "at least steps", "steps_per_execution": "steps per execution",
               "precision": "precision", "early_stopping": "keeps best val epoch"}


def recipe_table(root: Path, name: str) -> str:
    """The training recipe of each section of the params file ``name``, a row per model."""
    path = root / name
    if not path.is_file():
        raise ValueError(f"no {path}")
    params = load_params(path)
    lines = ["| model | " + " | ".join(RECIPE_KEYS.values()) + " |", "|---|" + "---:|" * len(RECIPE_KEYS)]
    for section, label in RECIPE_SECTIONS.items():
        recipe = getattr(params, section)
        cells = (getattr(recipe, key) for key in RECIPE_KEYS)
        lines.append(f"| {label} (`{section}`) | " + " | ".join(f"{value:g}" if isinstance(value, float) else str(value) for value in cells) + " |")
    lines += ["", f"From `{name}`."]
    return "\n".join(lines) + "\n"


ROUTE_MODELS = {"teacher": "teacher CNN", "baseline": "MLP alone", "student": "KD student"}
ROUTE_CHECKS = {
    "npz_splits_identical": "the `.npz` route's prepared splits equal the `.mat` route's, array for array",
    "folder_test_pairs_identical": "the folder's test split holds the same (image, label) pairs",
    "folder_train_val_images_identical": "its train + val the same images",
    "folder_classes_identical": "its classes the same, in the same order",
}


def own_data_route_table(root: Path, name: str) -> str:
    """The ``.mat`` and the folder routes' test accuracies per model over their seeds, and the
    folder's difference from the ``.mat`` route with Welch's 95 % interval (each seed one run)."""
    import numpy as np
    from scipy import stats

    path = root / "bench" / f"results-{name}.json"
    record = _read(path)
    checks = "; ".join(f"{text}: {'yes' if record['checks'][key] else 'NO'}" for key, text in ROUTE_CHECKS.items())
    runs = record["runs"]
    seeds = len(runs["mat"])
    lines = [f"`{record['command']}` — {sum(record['images'].values()):,} real letters "
             f"({', '.join(f'{split} {count:,}' for split, count in record['images'].items())}), on {record['machine']}.",
             "", f"Read back: {checks}.", "",
             f"| model | `.mat` route, {seeds} seeds: test % (mean ± sd) | folder route, {len(runs['folder'])} seeds | "
             "folder − `.mat` [95 % CI, Welch] |", "|---|---:|---:|---:|"]
    for model, label in ROUTE_MODELS.items():
        mat = np.array([run[model] for run in runs["mat"]]) * 100
        folder = np.array([run[model] for run in runs["folder"]]) * 100
        interval = stats.ttest_ind(folder, mat, equal_var=False).confidence_interval(0.95)
        lines.append(f"| {label} | {mat.mean():.2f} ± {mat.std(ddof=1):.2f} | {folder.mean():.2f} ± {folder.std(ddof=1):.2f} | "
                     f"{folder.mean() - mat.mean():+.2f} [{interval.low:+.2f}, {interval.high:+.2f}] |")
    lines += ["", f"Run *s* seeds its teacher and its MLPs with `seed + s`; the shipped params otherwise. "
              f"From `bench/results-{name}.json`."]
    return "\n".join(lines) + "\n"


def first_run(root: Path, name: str) -> str:
    """What ``make repro`` does on a fresh clone, in two lines: the data it trains on, how long its
    ``dvc repro`` took as shipped (the last recipe of ``bench/results-NAME.json``) and the committed
    default run's test accuracies (``metrics/``)."""
    bench = _read(root / "bench" / f"results-{name}.json")
    shipped = bench["recipes"][-1]
    images = _read(root / "metrics" / "data.json")
    teacher, baseline, student = (_read(root / "metrics" / f"{model}.json") for model in ("teacher", "baseline", "student"))
    return (f"`make repro` trains every model on the embedded synthetic letters ({images['images']['train']:,} training "
            f"images of {images['classes']} classes: handwriting-like, not EMNIST, so its figures are not the table's "
            f"below). Its `dvc repro` runs every stage in {bench['seconds'][shipped] / 60:.1f} min on {bench['cores']} cores "
            f"({bench['machine']}, `bench/run_benchmark.py --default`); on test the teacher scores {_percent(teacher['test_accuracy'])}, the MLP alone "
            f"{_percent(baseline['test_accuracy'])}, the KD student {_percent(student['test_accuracy'])} (`make metrics`).\n")


def metrics_renderers(root: Path) -> dict[str, Callable[[str], str]]:
    """The block kinds of this module, reading files below ``root``."""
    return {"models": lambda name: models_table(root, name),
            "exports": lambda name: exports_table(export_files(root, name), root),
            "bench": lambda name: bench_results(root, name), "recipe": lambda name: recipe_table(root, name),
            "route": lambda name: own_data_route_table(root, name), "first-run": lambda name: first_run(root, name)}
