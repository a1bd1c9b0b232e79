"""A DVC remote that drops the connection part-way through `dvc push` (full tier): a real WebDAV
server behind a proxy on 127.0.0.1 that cuts each connection after a number of bytes. The push
fails and leaves part of a file under a full object name (the server writes as it receives); a
plain second push skips it, `scripts.check_remote` finds it by size and `--repair` uploads it
again, whole, and a fresh clone pulls every output intact."""
from __future__ import annotations

import hashlib
import socket
import sys
import threading
from pathlib import Path

from project import changed_stages, clone, clone_trained, dvc, error_lines, git, run


class DroppingProxy:
    """Forward 127.0.0.1:port to the server; close each connection after ``budget`` bytes from the client."""

    def __init__(self, target_port: int, budget: int):
        self.target_port, self.budget = target_port, budget
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.dropped = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, upstream: bool) -> None:
        sent = 0
        try:
            while chunk := source.recv(65536):
                if upstream and sent + len(chunk) > self.budget:
                    target.sendall(chunk[: self.budget - sent])  # part of a request body, then the line goes dead
                    self.dropped += 1
                    break
                target.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        for end in (source, target):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()

    def close(self) -> None:
        self.listener.close()


def files_whose_name_is_not_their_hash(store: Path) -> list[str]:
    """DVC's objects on the server (``files/md5/ab/cdef…``) whose bytes do not hash to their name."""
    wrong = []
    for path in (store / "files" / "md5").rglob("*"):
        if path.is_file() and not path.name.endswith(".dir"):
            if hashlib.md5(path.read_bytes()).hexdigest() != path.parent.name + path.name:
                wrong.append(str(path.relative_to(store)))
    return wrong


def test_a_push_cut_off_part_way_leaves_truncated_objects_that_check_remote_names_and_repairs(
        webdav_server, trained_repo, tmp_path):
    webdav_url, store = webdav_server
    port = int(webdav_url.split(":")[2].split("/")[0])
    proxy = DroppingProxy(port, budget=300_000)  # the teacher model alone is several MB
    try:
        project = clone_trained(trained_repo, tmp_path / "a")
        assert dvc("remote", "add", "flaky", f"webdav://127.0.0.1:{proxy.port}/store", cwd=project).returncode == 0
        assert dvc("remote", "add", "direct", webdav_url, cwd=project).returncode == 0
        cut = dvc("push", "-r", "flaky", cwd=project)
        assert cut.returncode != 0 and proxy.dropped >= 1, cut.stdout[-2000:] + cut.stderr[-2000:]
    finally:
        proxy.close()
    truncated = files_whose_name_is_not_their_hash(store)
    assert git("commit", "-qam", "remotes", cwd=project).returncode == 0
    # A colleague who pulls before the repair, with `verify = true` as docs/teams.md sets it: DVC
    # re-hashes what it downloads and refuses the truncated objects (without it, a plain pull takes
    # them silently), so no output that is not what dvc.lock names lands in the workspace.
    early = clone(project, tmp_path / "early")
    assert dvc("remote", "modify", "direct", "verify", "true", cwd=early).returncode == 0
    refused = dvc("pull", "-r", "direct", cwd=early)
    assert refused.returncode != 0 and "failed to pull data" in refused.stderr, refused.stderr[-2000:]
    landed = [model for model in ("teacher", "baseline", "student") if (early / "models" / f"{model}.keras").exists()]
    assert all((early / "models" / f"{model}.keras").read_bytes() == (project / "models" / f"{model}.keras").read_bytes()
               for model in landed)
    # What the broken-off push left: part of a file under the full name. DVC's next push would skip
    # it (the name exists); the check finds it by size, and --repair uploads it again.
    again = dvc("push", "-r", "direct", cwd=project)
    assert again.returncode == 0, again.stderr[-3000:]
    assert files_whose_name_is_not_their_hash(store) == truncated  # a plain second push repairs nothing
    checked = run([sys.executable, "-m", "scripts.check_remote", "-r", "direct"], project)
    assert truncated, "the cut push left nothing truncated: this server writes elsewhere first"
    assert checked.returncode == 1 and error_lines(checked) == [
        f"error: direct: {len(truncated)} objects are truncated there (a push broke off); run "
        "`python -m scripts.check_remote -r direct --repair` to upload them again"], checked.stderr
    repaired = run([sys.executable, "-m", "scripts.check_remote", "-r", "direct", "--repair"], project)
    assert repaired.returncode == 0, repaired.stderr
    assert files_whose_name_is_not_their_hash(store) == []
    assert run([sys.executable, "-m", "scripts.check_remote", "-r", "direct"], project).returncode == 0

    colleague = clone(project, tmp_path / "b")
    pulled = dvc("pull", "-r", "direct", cwd=colleague)
    assert pulled.returncode == 0, pulled.stderr[-3000:]
    assert changed_stages(colleague) == set()
    for model in ("teacher", "baseline", "student"):
        assert (colleague / "models" / f"{model}.keras").read_bytes() == (project / "models" / f"{model}.keras").read_bytes()
    print(f"push cut after 300 kB per connection: {proxy.dropped} connections dropped, {len(truncated)} objects truncated")
