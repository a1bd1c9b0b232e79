"""Write outputs under a temporary name and rename them into place when complete.

A stage killed half-way then leaves at most a hidden ``.*.tmp*`` file behind, never a
truncated output that DVC or a later stage could take for a good one.
"""
from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import secrets
import shutil
import zipfile
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterator

import numpy as np


@contextlib.contextmanager
def scratch_path(near: str | Path) -> Iterator[Path]:
    """Yield an unused hidden file name beside ``near``; the file is removed afterwards, always.

    The name keeps ``near``'s suffix, because writers such as ``np.savez`` and
    ``keras.Model.save`` insist on a particular extension.
    """
    near = Path(near)
    near.parent.mkdir(parents=True, exist_ok=True)
    temporary = near.with_name(f".{near.stem}.tmp-{secrets.token_hex(4)}{near.suffix}")
    try:
        yield temporary
    finally:
        temporary.unlink(missing_ok=True)


class DiskFull(OSError):
    """An output could not be written for want of space; one line naming it and what to do."""

    def __init__(self, target: Path):
        super().__init__(errno.ENOSPC, f"{target}: the disk is full (no space left on device) while writing it; nothing "
                                       "was kept: free space there and run the stage again (`dvc repro`)")

    def __str__(self) -> str:
        return self.strerror


@contextlib.contextmanager
def disk_full_names(target: str | Path) -> Iterator[None]:
    """Turn a full disk (``ENOSPC``) inside into :class:`DiskFull` naming ``target``, the output as
    the user knows it, rather than whatever temporary name the writer was using."""
    try:
        yield
    except OSError as error:
        if error.errno == errno.ENOSPC and not isinstance(error, DiskFull):
            raise DiskFull(Path(target)) from None
        raise


@contextlib.contextmanager
def atomic_output(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it to ``target`` only on success.

    A full disk becomes :class:`DiskFull` (:func:`disk_full_names`), and the partial temporary
    file is removed like any other failure's.
    """
    with scratch_path(target) as temporary:
        with disk_full_names(target):
            yield temporary
            durable(temporary)
        os.replace(temporary, target)
        durable(Path(target).parent)


def durable(path: Path) -> None:
    """``fsync`` a written file (or the folder that holds a rename): without it a power cut soon
    after the rename can leave the new name on disk with none of the file's bytes."""
    if not path.exists():
        return
    descriptor = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def copy_file(source: str | Path, target: str | Path) -> None:
    """Copy ``source`` to ``target`` byte for byte, atomically."""
    with atomic_output(target) as temporary:
        shutil.copyfile(source, temporary)


def write_json(target: str | Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` as indented, key-sorted JSON, atomically."""
    with atomic_output(target) as temporary:
        temporary.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def write_npz(target: str | Path, arrays: dict[str, np.ndarray], compressed: bool = False) -> None:
    """Write arrays as an ``.npz`` that ``np.load`` reads (deflated if ``compressed``), atomically.

    Unlike ``np.savez`` every zip entry gets a fixed time stamp, so equal arrays give equal
    bytes and DVC does not re-run later stages for a file whose content did not change.
    """
    with npz_writer(target, compressed) as writer:
        for name, array in arrays.items():
            writer.add(name, array)


DEFLATE_LEVEL = 1


class NpzWriter:
    """An open ``.npz`` being written: whole arrays with :meth:`add`, large ones chunk by chunk with :meth:`stream`.

    Streamed or whole, equal arrays give equal bytes (same ``.npy`` headers, fixed time stamps).
    Each entry carries its own compression: ``writestr`` with a ``ZipInfo`` ignores the archive's.
    """

    def __init__(self, archive: zipfile.ZipFile, method: int):
        self.archive, self.method = archive, method

    def _entry(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = self.method
        if self.method == zipfile.ZIP_DEFLATED:
            # zlib's fastest level: on the teacher's hidden activations (mostly zeros) it deflates
            # four times as fast as the default level, to a file a tenth larger. The attribute is the
            # entry's level (public as ``compress_level`` from Python 3.13, where this name remains).
            info._compresslevel = DEFLATE_LEVEL
        return info

    def add(self, name: str, array: np.ndarray) -> None:
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(array), allow_pickle=False)
        self.archive.writestr(self._entry(name), buffer.getvalue())

    @contextlib.contextmanager
    def stream(self, name: str, shape: tuple[int, ...], dtype: Any) -> Iterator[Callable[[np.ndarray], None]]:
        """Yield ``write(chunk)``; the chunks, in order, must fill ``shape`` exactly (rows first)."""
        dtype = np.dtype(dtype)
        expected = int(np.prod(shape)) * dtype.itemsize
        written = 0
        with self.archive.open(self._entry(name), "w", force_zip64=expected > 2**31) as entry:
            header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(shape)}
            np.lib.format.write_array_header_1_0(entry, header)

            def write(chunk: np.ndarray) -> None:
                nonlocal written
                data = np.ascontiguousarray(chunk, dtype=dtype).tobytes()
                written += len(data)
                entry.write(data)

            yield write
        if written != expected:
            raise ValueError(f"{name}: {written} bytes written for an array of shape {shape} ({expected} bytes)")


@contextlib.contextmanager
def npz_writer(target: str | Path, compressed: bool = False) -> Iterator[NpzWriter]:
    """Write an ``.npz`` at ``target`` through an :class:`NpzWriter`, atomically."""
    method = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    with atomic_output(target) as temporary, zipfile.ZipFile(temporary, "w", method) as archive:
        yield NpzWriter(archive, method)
