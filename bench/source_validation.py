"""What checking the source file costs: ``read_emnist_mat`` beside the plain copy, same run.

    python bench/source_validation.py [--mat PATH]

Builds a file the size of the official EMNIST-letters (124,800 train / 20,800 test images,
zlib-compressed like NIST's) by tiling the images of ``--mat`` (default: the real 58,405-letter
file in ../shared/data, or random images when it is absent), then times, three times each and
interleaved, the ``source`` stage's validation read and its copy. Prints medians and the ratio.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.io

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from distillation.atomic import copy_file  # noqa: E402
from distillation.data.emnist import read_emnist_mat  # noqa: E402

FULL_TRAIN, FULL_TEST = 124_800, 20_800
DEFAULT_MAT = Path(__file__).resolve().parents[2] / "shared" / "data" / "emnist-byclass-letters.mat"


def full_size_file(directory: Path, template: Path | None) -> Path:
    """A letters file of the official size, its rows tiled from ``template`` (stored layout kept)."""
    if template is not None and template.is_file():
        dataset = scipy.io.loadmat(str(template), simplify_cells=True)["dataset"]
        rows, labels, mapping = dataset["train"]["images"], dataset["train"]["labels"], dataset["mapping"]
    else:
        rng = np.random.default_rng(0)
        rows = rng.integers(0, 256, (26_000, 784), dtype=np.uint8)
        labels, mapping = np.arange(26_000) % 26 + 1, np.array([[i + 1, 65 + i, 97 + i] for i in range(26)])
    take = lambda count: np.resize(np.arange(rows.shape[0]), count)  # noqa: E731
    split = lambda index: {  # noqa: E731
        "images": rows[index], "labels": np.asarray(labels, float).reshape(-1, 1)[index],
        "writers": np.zeros((index.size, 1)),
    }
    path = directory / "emnist-letters-size.mat"
    content = {"dataset": {"train": split(take(FULL_TRAIN)), "test": split(take(FULL_TEST)), "mapping": np.asarray(mapping, float)}}
    scipy.io.savemat(str(path), content, do_compression=True)
    return path


def measure(path: Path, directory: Path, repeats: int = 3) -> dict[str, float]:
    timings: dict[str, list[float]] = {"validate (read_emnist_mat)": [], "copy": []}
    for _ in range(repeats):
        started = time.perf_counter()
        read_emnist_mat(path)
        timings["validate (read_emnist_mat)"].append(time.perf_counter() - started)
        started = time.perf_counter()
        copy_file(path, directory / "copy.mat")
        timings["copy"].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mat", type=Path, default=DEFAULT_MAT)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        files = [full_size_file(directory, arguments.mat)]
        if arguments.mat.is_file():
            files.insert(0, arguments.mat)
        for path in files:
            medians = measure(path, directory)
            validate, copy = medians["validate (read_emnist_mat)"], medians["copy"]
            print(f"{path.name} ({path.stat().st_size / 1e6:.1f} MB): validate {validate:.2f} s, "
                  f"copy {copy:.3f} s, validate/copy {validate / copy:.0f}× (medians of 3)")


if __name__ == "__main__":
    main()
