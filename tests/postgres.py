"""A real PostgreSQL server for the tests: ``initdb`` into a temporary folder, on 127.0.0.1, no service.

PostgreSQL refuses to run as root; as root, its commands run as the ``postgres`` user
(``runuser``), which owns the folder. The server binaries: ``PG_BIN``, else ``initdb`` on PATH,
else Debian's ``/usr/lib/postgresql/<version>/bin``, else the copy the lock installs (pgserver's
wheel, Linux x86-64), so the tests need nothing installed by hand.
"""
from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from project import free_port


def server_binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or None."""
    candidates = [os.environ.get("PG_BIN", "")]
    on_path = shutil.which("initdb")
    candidates += [str(Path(on_path).resolve().parent)] if on_path else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda path: int(Path(path).parent.name), reverse=True)
    bundled = importlib.util.find_spec("pgserver")  # the lock's own copy, where the machine has none
    candidates += [str(Path(bundled.origin).parent / "pginstall" / "bin")] if bundled and bundled.origin else []
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    return None


class PostgresServer:
    """A server in a temporary folder; :meth:`stop` and :meth:`start` again, as a restart or an outage does."""

    def __init__(self, binaries: Path, folder: Path, port: int):
        self.binaries, self.folder, self.port = binaries, folder, port
        self.as_server_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.data = folder / "data"

    def command(self, name: str, *arguments: str) -> None:
        subprocess.run([*self.as_server_user, str(self.binaries / name), *arguments], check=True, capture_output=True, text=True,
                       cwd=self.folder)

    def start(self) -> None:
        self.command("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w", "-t", "60",
                     "-o", f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off", "start")

    def stop(self) -> None:
        """As a crash or a power cut: ``immediate``, every connection dropped."""
        self.command("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@contextmanager
def restartable_postgres(database: str = "sweeps") -> Iterator[tuple[str, PostgresServer]]:
    """Start a server with an empty ``database``; yield its URL (user ``kd``, no password) and the server; stop it."""
    binaries = server_binaries()
    if binaries is None:
        raise FileNotFoundError("PostgreSQL's server binaries (initdb, pg_ctl) not found; set PG_BIN")
    folder = Path(tempfile.mkdtemp(prefix="kd-postgres-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    server = PostgresServer(binaries, folder, free_port())
    try:
        server.command("initdb", "-D", str(server.data), "-U", "kd", "--auth=trust", "-E", "UTF8", "--no-sync")
        server.start()
        try:
            server.command("createdb", "-h", "127.0.0.1", "-p", str(server.port), "-U", "kd", database)
            yield f"postgresql://kd@127.0.0.1:{server.port}/{database}", server
        finally:
            subprocess.run([*server.as_server_user, str(binaries / "pg_ctl"), "-D", str(server.data), "-m", "immediate", "-w",
                            "stop"], capture_output=True, cwd=folder)  # may be stopped already
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres_server(database: str = "sweeps") -> Iterator[str]:
    """Start a server with an empty ``database``; yield its URL (user ``kd``, no password); stop it."""
    with restartable_postgres(database) as (url, _):
        yield url
