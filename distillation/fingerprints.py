"""Fingerprints of what the pipeline reads from outside itself: your data folder or file, your teacher.

DVC re-runs a stage when a declared dependency changes, but a path written in ``params.yaml``
(``data.source``, ``teacher.model``) cannot be declared: DVC has no optional dependency, and the
default needs no file. The ``inputs`` stage runs on every ``dvc repro`` and writes each given
path's SHA-256 into a small file that ``source`` or ``train_teacher`` depends on; when your images
or your teacher change at the same path, that stage re-runs, and otherwise nothing does.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

BLOCK = 1 << 20


def _add_file(digest: Any, path: Path) -> None:
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(BLOCK), b""):
            digest.update(block)


def file_sha256(path: Path) -> str:
    """The SHA-256 of one file's bytes."""
    digest = hashlib.sha256()
    _add_file(digest, path)
    return digest.hexdigest()


def path_sha256(path: Path) -> str | None:
    """A file's SHA-256, or a folder's: every file below it (hidden ones aside) by relative path and
    bytes, in sorted order, so adding, removing, renaming or editing an image changes it; None if
    nothing is there."""
    if path.is_file():
        return file_sha256(path)
    if not path.is_dir():
        return None
    digest = hashlib.sha256()
    files = sorted(file for file in path.rglob("*")
                   if file.is_file() and not any(part.startswith(".") for part in file.relative_to(path).parts))
    for file in files:
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        _add_file(digest, file)
        digest.update(b"\0")
    return digest.hexdigest()


def input_record(key: str, given: str | None, named: tuple[str, ...] = ()) -> dict[str, Any]:
    """What the inputs stage writes for one param: its value, and the SHA-256 of the path it names
    (none for a value in ``named``, which names no path, or for null)."""
    if given is None or given in named:
        return {key: given}
    return {key: given, "sha256": path_sha256(Path(given))}
