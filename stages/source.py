"""Stage ``source``: put the raw EMNIST-layout ``.mat`` that ``convert`` reads in ``data/raw``.

``data.source`` is one of:
- ``synthetic``: the embedded handwriting-like letters, drawn deterministically;
- ``emnist``: the official ``emnist-letters.mat``, from ``data.emnist.path`` if placed there,
  otherwise downloaded from NIST, and verified against ``data.emnist.sha256``;
- the path of any EMNIST ``.mat`` (absolute, or relative to the project root).
The file is copied unchanged, so DVC records its hash.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from distillation.atomic import copy_file
from distillation.cli import run_stage
from distillation.download import EmnistRelease, copy_verified
from distillation.emnist import write_emnist_mat
from distillation.params import load_params
from distillation.paths import RAW_MAT
from distillation.synthetic import generate_letters, letters_mapping


def materialise_source(data: dict[str, Any], seed: int, output: Path = RAW_MAT) -> None:
    """Write the input named by ``data.source`` (the ``data`` params section) to ``output``."""
    source = data["source"]
    if source == "synthetic":
        synthetic = data["synthetic"]
        # Different seeds for the two splits, so test images are never copies of training ones.
        train_images, train_labels = generate_letters(synthetic["train_per_class"], seed)
        test_images, test_labels = generate_letters(synthetic["test_per_class"], seed + 1_000_003)
        write_emnist_mat(output, train_images, train_labels, test_images, test_labels, letters_mapping())
        return
    if source == "emnist":
        release = EmnistRelease(**{**data["emnist"], "path": Path(data["emnist"]["path"])})
        copy_verified(release, output)
        return
    path = Path(source)
    if not path.is_file():
        raise ValueError(
            f"data.source: '{source}' is not 'synthetic', 'emnist' or an existing .mat file "
            f"(looked for {path.resolve()})"
        )
    copy_file(path, output)


def main() -> None:
    params = load_params()
    materialise_source(params["data"], params["seed"])
    print(f"wrote {RAW_MAT}")


if __name__ == "__main__":
    run_stage(main)
