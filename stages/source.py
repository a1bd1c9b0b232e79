"""Stage ``source``: put the raw EMNIST-layout ``.mat`` that ``convert`` reads in ``data/raw``.

``data.source: synthetic`` draws the embedded handwriting-like letters; any other value is the
path of an EMNIST ``.mat`` (absolute, or relative to the project root), copied unchanged so DVC
records its hash.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from distillation.atomic import atomic_output
from distillation.cli import run_stage
from distillation.emnist import write_emnist_mat
from distillation.params import load_params
from distillation.paths import RAW_MAT
from distillation.synthetic import generate_letters, letters_mapping


def materialise_source(source: str, synthetic: dict[str, Any], seed: int, output: Path = RAW_MAT) -> None:
    """Write the input named by ``data.source`` to ``output``."""
    if source == "synthetic":
        # Different seeds for the two splits, so test images are never copies of training ones.
        train_images, train_labels = generate_letters(synthetic["train_per_class"], seed)
        test_images, test_labels = generate_letters(synthetic["test_per_class"], seed + 1_000_003)
        write_emnist_mat(output, train_images, train_labels, test_images, test_labels, letters_mapping())
        return
    path = Path(source)
    if not path.is_file():
        raise ValueError(
            f"data.source: '{source}' is neither 'synthetic' nor an existing .mat file "
            f"(looked for {path.resolve()})"
        )
    with atomic_output(output) as temporary:
        shutil.copyfile(path, temporary)


def main() -> None:
    params = load_params()
    materialise_source(params["data"]["source"], params["data"]["synthetic"], params["seed"])
    print(f"wrote {RAW_MAT}")


if __name__ == "__main__":
    run_stage(main)
