"""Acquiring the official file: a placed copy, or a download from a local HTTP server."""
from __future__ import annotations

import hashlib
import http.server
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import PROJECT_ROOT
from distillation.config.params import EmnistParams, load_params
from distillation.data.download import AcquisitionError, EmnistRelease, fetch_emnist
from distillation.data.emnist import read_emnist_mat, write_emnist_mat
from stages.source import materialise_source

MEMBER = "emnist-letters.mat"


@pytest.fixture(scope="module")
def letters_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("member") / MEMBER
    images = np.random.default_rng(0).integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    write_emnist_mat(path, images, [1, 2, 1, 2], images, [1, 2, 1, 2], np.array([[1, 65, 97], [2, 66, 98]]))
    return path.read_bytes()


@pytest.fixture(scope="module")
def server(tmp_path_factory, letters_bytes):
    """Serves /matlab.zip whole, and /dropped.zip cut off half-way with the full length announced."""
    archive_path = tmp_path_factory.mktemp("served") / "matlab.zip"
    with zipfile.ZipFile(archive_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("matlab/emnist-digits.mat", b"not the file we want" * 100)
        archive.writestr(f"matlab/{MEMBER}", letters_bytes)
    archive = archive_path.read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path not in ("/matlab.zip", "/dropped.zip"):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(archive)))
            self.end_headers()
            self.wfile.write(archive if self.path == "/matlab.zip" else archive[: len(archive) // 2])
            self.close_connection = True

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def release_for(directory: Path, url: str, content: bytes, sha256: str | None = None) -> EmnistRelease:
    return EmnistRelease(
        path=directory / "external" / MEMBER,
        url=url,
        member=MEMBER,
        sha256=sha256 or hashlib.sha256(content).hexdigest(),
        bytes=len(content),
    )


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if p.is_file())


def test_download_extracts_only_the_letters_file_and_verifies_it(tmp_path, server, letters_bytes):
    release = release_for(tmp_path, f"{server}/matlab.zip", letters_bytes)
    path = fetch_emnist(release)
    assert path.read_bytes() == letters_bytes
    assert leftovers(tmp_path) == [MEMBER]  # the zip is gone, nothing temporary remains
    assert read_emnist_mat(path).classes == ("Aa", "Bb")


def test_wrong_checksum_shows_both_values_and_keeps_nothing(tmp_path, server, letters_bytes):
    release = release_for(tmp_path, f"{server}/matlab.zip", letters_bytes, sha256="0" * 64)
    with pytest.raises(AcquisitionError) as error:
        fetch_emnist(release)
    message = str(error.value)
    assert "0" * 64 in message and hashlib.sha256(letters_bytes).hexdigest() in message
    assert leftovers(tmp_path) == []


def test_dropped_connection_is_an_error_and_keeps_nothing(tmp_path, server, letters_bytes):
    release = release_for(tmp_path, f"{server}/dropped.zip", letters_bytes)
    with pytest.raises(AcquisitionError, match="broke off"):
        fetch_emnist(release)
    assert leftovers(tmp_path) == []


def test_unreachable_server_says_where_to_place_the_file(tmp_path, letters_bytes):
    # Port 9 on loopback has no listener here: the connection is refused at once.
    release = release_for(tmp_path, "http://127.0.0.1:9/matlab.zip", letters_bytes)
    with pytest.raises(AcquisitionError, match="could not download.*place it at .*emnist-letters.mat") as error:
        fetch_emnist(release, timeout=5)
    assert "\n" not in str(error.value)
    assert leftovers(tmp_path) == []


def test_placed_copy_is_used_without_network(tmp_path, letters_bytes):
    release = release_for(tmp_path, "http://127.0.0.1:9/matlab.zip", letters_bytes)
    release.path.parent.mkdir(parents=True)
    release.path.write_bytes(letters_bytes)
    output = tmp_path / "raw" / "emnist.mat"
    emnist = {key: value for key, value in release.__dict__.items() if key in EmnistParams.model_fields}
    data = load_params(PROJECT_ROOT / "params.yaml").data.changed(source="emnist", emnist={**emnist, "path": str(release.path)})
    materialise_source(data, seed=0, output=output)
    assert output.read_bytes() == letters_bytes


def test_placed_copy_with_other_content_is_refused(tmp_path, letters_bytes):
    release = release_for(tmp_path, "http://127.0.0.1:9/matlab.zip", letters_bytes)
    release.path.parent.mkdir(parents=True)
    release.path.write_bytes(letters_bytes[:-1] + b"\x01")
    with pytest.raises(AcquisitionError, match="not the expected EMNIST file: expected .* got"):
        fetch_emnist(release)
