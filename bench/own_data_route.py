"""The real letters through the own-data routes: the same images, labels and models as the ``.mat`` route?

    python bench/own_data_route.py [--mat PATH] [--seeds 3] [--output bench/results-own-data-route.json]

On ``--mat`` (default: the real 58,405 letters in ../shared/data) it writes the letters out as
users hold their own data — an ``.npz`` in the Keras datasets' convention, in the file's order,
and a folder of upright PNGs per class — and reads each back through ``data.source``'s readers:

- the ``.npz`` keeps the order, so its prepared splits must equal the ``.mat`` route's array for
  array, and every model trained on them is the same model;
- the folder reads class by class, so its order differs: its test split must hold the same
  (image, label) pairs and its train + val the same images, but val is carved from another order,
  so its models differ as another seed's would.

Then, with the shipped params (one cosine teacher, the MLP alone, the KD student), ``--seeds``
runs of each of the ``.mat`` and the folder routes, run *s* seeding its teacher and its MLPs with
``seed + s`` (params ``teacher.replicate`` = ``replicate`` = *s*): the folder route's test
accuracies against the ``.mat`` route's seed-to-seed spread. Writes the figures, the command and
the CPU to ``--output`` (JSON); ``python -m scripts.report`` renders them into docs/data.md.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from distillation.config.params import load_params  # noqa: E402
from distillation.data.emnist import read_emnist_mat  # noqa: E402
from distillation.data.own_images import ImageDataset, ImageSplit, read_arrays_npz, read_image_folder, write_image_dataset  # noqa: E402
from distillation.data.splitting import prepare_image_splits, prepare_splits  # noqa: E402
from distillation.machine import machine_kind  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REAL_MAT = PROJECT_ROOT.parent / "shared" / "data" / "emnist-byclass-letters.mat"
MODELS = ("teacher", "baseline", "student")


def write_folder(dataset, root: Path) -> None:
    """The letters as ``root/{train,test}/<letters>/<index>.png``, upright, in the file's order by name."""
    for name, split in (("train", dataset.train), ("test", dataset.test)):
        for index, (image, label) in enumerate(zip(split.images, split.labels)):
            folder = root / name / dataset.classes[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"{index:06d}.png")


def pairs(split) -> set[tuple[bytes, int]]:
    return {(image.tobytes(), int(label)) for image, label in zip(split.images, split.labels)}


def route_checks(mat_splits: dict, npz_splits: dict, folder_splits: dict) -> dict:
    """What the readers must keep: the .npz route equal array for array, the folder route equal as sets."""
    npz_equal = all(np.array_equal(mat_splits[name].images, npz_splits[name].images)
                    and np.array_equal(mat_splits[name].labels, npz_splits[name].labels)
                    and mat_splits[name].classes == npz_splits[name].classes for name in mat_splits)
    union = lambda splits: {image.tobytes() for name in ("train", "val") for image in splits[name].images}  # noqa: E731
    return {
        "npz_splits_identical": bool(npz_equal),
        "folder_test_pairs_identical": pairs(mat_splits["test"]) == pairs(folder_splits["test"]),
        "folder_train_val_images_identical": union(mat_splits) == union(folder_splits),
        "folder_classes_identical": mat_splits["train"].classes == folder_splits["train"].classes,
    }


def train_route(splits: dict, run: int, params) -> dict[str, float]:
    """Teacher, MLP alone and KD student with the shipped params, seeded ``seed + run``; their test accuracies."""
    from distillation.targets.ensemble import teacher_outputs
    from stages.train_baseline import train_baseline
    from stages.train_student import train_student
    from stages.train_teacher import train_teacher

    seed = params.seed + run
    teacher, teacher_metrics = train_teacher(splits, params.teacher, seed)
    logits, _ = teacher_outputs(teacher, splits)
    _, baseline_metrics = train_baseline(splits, params.baseline, seed)
    _, student_metrics = train_student(splits, {"logits": logits}, params.distill, params.baseline.hidden_units, seed)
    return {name: metrics["test_accuracy"] for name, metrics in
            zip(MODELS, (teacher_metrics, baseline_metrics, student_metrics))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mat", type=Path, default=REAL_MAT)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / "bench" / "results-own-data-route.json")
    arguments = parser.parse_args()
    if not arguments.mat.is_file():
        raise SystemExit(f"--mat {arguments.mat}: file not found (the real file lives in ../shared/data)")
    params = load_params(PROJECT_ROOT / "params.yaml")
    split_seed = params.seed + params.data.split_replicate
    dataset = read_emnist_mat(arguments.mat)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        started = time.perf_counter()
        write_folder(dataset, scratch / "letters")
        written_seconds = time.perf_counter() - started
        started = time.perf_counter()
        folder = read_image_folder(scratch / "letters")
        read_seconds = time.perf_counter() - started
        as_npz = ImageDataset(train=ImageSplit(dataset.train.images[..., None], dataset.train.labels.astype(np.int32)),
                              test=ImageSplit(dataset.test.images[..., None], dataset.test.labels.astype(np.int32)),
                              classes=dataset.classes)
        write_image_dataset(scratch / "letters.npz", as_npz)
        npz = read_arrays_npz(scratch / "letters.npz")
    routes = {"mat": prepare_splits(dataset, params.data.val_fraction, split_seed),
              "npz": prepare_image_splits(npz, params.data.val_fraction, split_seed),
              "folder": prepare_image_splits(folder, params.data.val_fraction, split_seed)}
    checks = route_checks(routes["mat"], routes["npz"], routes["folder"])
    print(json.dumps(checks), flush=True)
    runs: dict[str, list[dict[str, float]]] = {"mat": [], "folder": []}
    for run in range(arguments.seeds):
        for route in runs:
            runs[route].append(train_route(routes[route], run, params))
            print(route, run, runs[route][-1], flush=True)
    record = {
        "command": f"python bench/own_data_route.py --mat {arguments.mat.name} --seeds {arguments.seeds}",
        "source": arguments.mat.name,
        "images": {name: int(split.labels.shape[0]) for name, split in routes["mat"].items()},
        "checks": checks,
        "folder_write_seconds": round(written_seconds, 1), "folder_read_seconds": round(read_seconds, 1),
        "runs": runs,
        "machine": machine_kind(),
    }
    arguments.output.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()
