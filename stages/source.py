"""Stage ``source``: put the raw EMNIST-layout ``.mat`` that ``convert`` reads in ``data/raw``.

``data.source`` is one of:
- ``synthetic``: the embedded handwriting-like letters, drawn deterministically;
- ``emnist``: the official ``emnist-letters.mat``, from ``data.emnist.path`` if placed there,
  otherwise downloaded from NIST, and verified against ``data.emnist.sha256``;
- ``emnist-byclass-letters``: the project's real letters (58,405), built from the official
  ``emnist-byclass.mat`` (``data.emnist_byclass``, placed or downloaded like the letters file) by
  the rule of :mod:`distillation.data.byclass_letters`, checked against ``data.emnist_byclass.letters_sha256``;
- the path of any EMNIST ``.mat`` (absolute, or relative to the project root);
- your own images: a folder of class folders (``train/<class>/*``, ``test/<class>/*``, optionally
  ``val/``) or an ``.npz`` of ``x_train, y_train, x_test, y_test`` (:mod:`distillation.data.own_images`),
  written to ``data/raw/images.npz`` as ``data.image_size`` × ``data.channels`` (null: the images' own).
  The EMNIST sources are 28 × 28 grey: setting either key for one of them is refused.
A given file is read and checked exactly as ``convert`` will read it *before* anything is
written, so a malformed file fails here, named as the user gave it, and never becomes an output
that DVC records. A good file is copied unchanged, so DVC records its hash.
"""
from __future__ import annotations

from pathlib import Path

from distillation.atomic import copy_file
from distillation.data.byclass_letters import SOURCE_NAME as BYCLASS_LETTERS, letters_fingerprint, letters_from_byclass
from distillation.cli import run_stage
from distillation.data.download import EmnistRelease, fetch_emnist
from distillation.data.emnist import describe_user_path, read_emnist_mat, write_emnist_mat
from distillation.config.params import DataParams, EmnistByclassParams, load_params
from distillation.data.own_images import NAMED_SOURCES, read_own_images, write_image_dataset
from distillation.paths import RAW_IMAGES, RAW_MAT
from distillation.data.synthetic import generate_letters, letters_mapping

EMNIST_SIZE = (28, 28)


def materialise_source(data: DataParams, seed: int, output: Path = RAW_MAT, images_output: Path = RAW_IMAGES) -> Path:
    """Write the input named by ``data.source`` (the ``data`` params section) to ``output`` (an
    EMNIST-layout source) or ``images_output`` (your own images); return the path written."""
    source = data.source
    # Read and checked whole before anything is written.
    own = None if source in NAMED_SOURCES else read_own_images(source, data.image_size, data.channels)
    if own is not None:
        write_image_dataset(images_output, own)
        return images_output
    if data.image_size not in (None, EMNIST_SIZE) or data.channels not in (None, 1):
        key, value = ("data.image_size", data.image_size) if data.image_size not in (None, EMNIST_SIZE) else ("data.channels", data.channels)
        raise ValueError(f"{key}: {value} resizes your own images (a folder or an .npz as data.source); "
                         f"data.source '{source}' is EMNIST, 28 × 28 grey: set it to null")
    if source == "synthetic":
        synthetic = data.synthetic
        # Different seeds for the two splits, so test images are never copies of training ones.
        train_images, train_labels = generate_letters(synthetic.train_per_class, seed)
        test_images, test_labels = generate_letters(synthetic.test_per_class, seed + 1_000_003)
        write_emnist_mat(output, train_images, train_labels, test_images, test_labels, letters_mapping())
        return output
    if source == "emnist":
        given = data.emnist.path
        release = EmnistRelease(**{**data.emnist.model_dump(), "path": Path(given)})
        copy_checked(fetch_emnist(release), f"data.emnist.path {describe_user_path(given)}", output)
        return output
    if source == BYCLASS_LETTERS:
        write_byclass_letters(data.emnist_byclass, output)
        return output
    path = Path(source)
    if not path.is_file():
        raise ValueError(
            f"data.source: '{source}' is not 'synthetic', 'emnist', '{BYCLASS_LETTERS}', an existing .mat or .npz file "
            f"or a folder of class folders (looked for {path.resolve()})"
        )
    copy_checked(path, f"data.source {describe_user_path(source)}", output)
    return output


def write_byclass_letters(byclass: EmnistByclassParams, output: Path) -> None:
    """Build the real letters from the official ByClass file and write them, if their hash is the expected one."""
    given = byclass.path
    release = EmnistRelease(path=Path(given), url=byclass.url, member=byclass.member, source=BYCLASS_LETTERS)
    shown = f"data.emnist_byclass.path {describe_user_path(given)}"
    letters = letters_from_byclass(read_emnist_mat(fetch_emnist(release), shown), shown)
    fingerprint = letters_fingerprint(letters)
    if fingerprint != byclass.letters_sha256:
        raise ValueError(
            f"{shown}: the letters built from it hash to {fingerprint}, "
            f"not data.emnist_byclass.letters_sha256 {byclass.letters_sha256}: not the official emnist-byclass.mat"
        )
    write_emnist_mat(output, letters.train_images, letters.train_labels, letters.test_images, letters.test_labels,
                     letters_mapping())


def copy_checked(path: Path, shown_as: str, output: Path) -> None:
    """Copy ``path`` to ``output`` only if it reads as a usable EMNIST file (errors say ``shown_as``)."""
    read_emnist_mat(path, shown_as)
    copy_file(path, output)


def main() -> None:
    params = load_params()
    print(f"wrote {materialise_source(params.data, params.seed)}")


if __name__ == "__main__":
    run_stage(main)
