"""Get an official EMNIST file (``emnist-letters.mat``, ``emnist-byclass.mat``): a copy the user placed, or NIST's ``matlab.zip``.

The letters file is verified by size and sha256 against values kept in ``params.yaml``, so a user
with another copy changes them deliberately, and DVC re-runs everything downstream when they
change. The ByClass file is not (no checksum of it is kept): the letters built from it are checked
instead (:mod:`distillation.data.byclass_letters`).
"""
from __future__ import annotations

import hashlib
import http.client
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from distillation.atomic import atomic_output, scratch_path

CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class EmnistRelease:
    """Where an official file comes from and what it must hash to (``data.emnist`` params)."""

    path: Path  # where a user places (or a download leaves) the verified file
    url: str  # NIST's matlab.zip
    member: str  # file name inside the zip
    sha256: str | None = None  # None: not checked here (what is made from it is)
    bytes: int | None = None
    source: str = "emnist"  # the data.source that asked for it, as error messages name it


class AcquisitionError(ValueError):
    """The official file could not be had or failed verification; one line saying what to do."""


def _hash_copy(source: BinaryIO, target: BinaryIO | None = None) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    while chunk := source.read(CHUNK_BYTES):
        digest.update(chunk)
        size += len(chunk)
        if target is not None:
            target.write(chunk)
    return digest.hexdigest(), size


def _check(path: Path, digest: str, size: int, release: EmnistRelease) -> None:
    if release.sha256 is None:
        return
    if size != release.bytes or digest != release.sha256:
        raise AcquisitionError(
            f"{path}: not the expected EMNIST file: expected {release.bytes} bytes with sha256 "
            f"{release.sha256}, got {size} bytes with sha256 {digest} (if you trust this copy, "
            "set data.emnist.sha256 and data.emnist.bytes to its values)"
        )


def verify(path: Path, release: EmnistRelease) -> None:
    """Raise :class:`AcquisitionError` unless ``path`` has the expected size and sha256 (if one is kept)."""
    if release.sha256 is None:
        return
    with path.open("rb") as handle:
        digest, size = _hash_copy(handle)
    _check(path, digest, size, release)


def _download(url: str, target: Path, timeout: float) -> None:
    """Stream ``url`` into ``target`` with a progress bar; an incomplete transfer is an error."""
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise AcquisitionError(f"could not download {url} ({reason})") from None
    with response, target.open("wb") as output:
        expected = int(response.headers.get("Content-Length") or 0) or None
        received = 0
        with tqdm(total=expected, unit="B", unit_scale=True, desc="matlab.zip", disable=None) as progress:
            try:
                while chunk := response.read(CHUNK_BYTES):
                    output.write(chunk)
                    received += len(chunk)
                    progress.update(len(chunk))
            except (http.client.IncompleteRead, OSError) as error:
                raise AcquisitionError(f"download of {url} broke off after {received} bytes ({error})") from None
        if expected is not None and received != expected:
            raise AcquisitionError(f"download of {url} broke off after {received} of {expected} bytes")


def _extract_member(archive: Path, release: EmnistRelease) -> None:
    """Stream the one wanted member out of the zip into ``release.path``, verifying it on the way."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            names = [name for name in bundle.namelist() if Path(name).name == release.member]
            if not names:
                raise AcquisitionError(f"{release.url}: the archive has no {release.member}")
            with bundle.open(names[0]) as member, atomic_output(release.path) as temporary:
                with temporary.open("wb") as output:
                    digest, size = _hash_copy(member, output)
                _check(release.path, digest, size, release)
    except zipfile.BadZipFile as error:
        raise AcquisitionError(f"{release.url}: downloaded file is not a zip archive ({error})") from None


def fetch_emnist(release: EmnistRelease, timeout: float = 15.0) -> Path:
    """Return the verified official file, downloading and extracting it if it is not placed yet."""
    if release.path.is_file():
        verify(release.path, release)
        return release.path
    release.path.parent.mkdir(parents=True, exist_ok=True)
    with scratch_path(release.path.with_name("matlab.zip")) as archive:
        try:
            _download(release.url, archive, timeout)
        except AcquisitionError as error:
            raise AcquisitionError(
                f"data.source={release.source}: {error}; no copy at {release.path} either. On a machine with "
                f"internet, get {release.url}, take {release.member} out of it and place it at {release.path}"
            ) from None
        _extract_member(archive, release)  # only the one file is kept
    return release.path
