"""`scripts.predict` on real letters written out as a user's scans: accuracy against the prepared arrays, and time.

    python bench/predict_check.py --project PATH [--count N] [--output bench/results-predict.md]

PATH is a project whose pipeline ran on the real letters (its ``data/prepared/test.npz`` and
``models/export/``). Each test image is written as an upright PNG of dark ink on white paper, 4×
the size, with a margin; ``scripts.predict.predict`` reads them back through EMNIST's
preprocessing and each exported student's runtime. Beside it: the same file's accuracy on the
prepared arrays (the export stage's measurement), and the time per image of the whole command's
work (reading, preprocessing, inference).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from distillation.machine import machine_kind  # noqa: E402
from distillation.data.prepared import load_split  # noqa: E402
from scripts.predict import describe, predict  # noqa: E402

SCALE, MARGIN = 4, 16
FILES = {"onnx": "student-onnx/student.onnx", "litert_int8": "student-int8/student_int8.tflite"}


def write_scans(images: np.ndarray, folder: Path) -> list[Path]:
    """Each (28, 28, 1) image in [0, 1] as a PNG of dark ink on white, SCALE× larger, with a MARGIN."""
    paths = []
    for index, image in enumerate(images):
        paper = np.kron(1.0 - image[..., 0], np.ones((SCALE, SCALE)))
        paper = np.pad(paper, MARGIN, constant_values=1.0)
        path = folder / f"{index:05d}.png"
        Image.fromarray(np.rint(paper * 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--count", type=int, default=0, help="the first N test images (0: all)")
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / "bench" / "results-predict.md")
    arguments = parser.parse_args()
    test = load_split(arguments.project / "data" / "prepared" / "test.npz")
    count = arguments.count or len(test.labels)
    exported = json.loads((arguments.project / "metrics" / "export.json").read_text())
    rows, sample = [], []
    with tempfile.TemporaryDirectory() as folder:
        scans = write_scans(test.images[:count], Path(folder))
        for kind, file in FILES.items():
            started = time.perf_counter()
            results = predict(arguments.project / "models" / "export" / file, scans)
            seconds = time.perf_counter() - started
            classes = list(test.classes)
            predicted = np.array([classes.index(top[0][0]) for _, top in results])
            if kind == "litert_int8":
                sample = [describe(path.name, top) for path, top in results[:4]]
            rows.append(f"| {Path(file).name} | {100 * np.mean(predicted == test.labels[:count]):.2f} % | "
                        f"{100 * exported[kind]['test_accuracy']:.2f} % | {1000 * seconds / count:.2f} |")
    text = "\n".join([
        "# scripts.predict on real letters written as scans",
        "",
        f"`python bench/predict_check.py --project {arguments.project.name}{f' --count {arguments.count}' if arguments.count else ''}` "
        f"— {count:,} test letters of the real letters as upright PNGs, dark ink on white, {SCALE}× size, "
        f"{MARGIN}-pixel margin; on {machine_kind()}, one process, 1 thread.",
        "",
        "| file | accuracy through predict (PNG) | accuracy on the prepared arrays | ms per image (read, preprocess, run) |",
        "|---|---:|---:|---:|",
        *rows,
        "",
        f"`python -m scripts.predict --model models/export/student-int8 00000.png 00001.png 00002.png 00003.png` "
        "prints, for the first four (true letters: "
        + ", ".join(test.classes[label] for label in test.labels[:4]) + "):",
        "",
        "```",
        *sample,
        "```",
        "",
    ])
    arguments.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
