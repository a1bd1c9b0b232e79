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


@contextmanager
def postgres_server(database: str = "sweeps") -> Iterator[str]:
    """Start a server with an empty ``database``; yield its URL (user ``kd``, no password); stop it."""
    binaries = server_binaries()
    if binaries is None:
        raise FileNotFoundError("PostgreSQL's server binaries (initdb, pg_ctl) not found; set PG_BIN")
    as_server_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="kd-postgres-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        as_server_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()

    def server_command(name: str, *arguments: str) -> None:
        subprocess.run([*as_server_user, str(binaries / name), *arguments], check=True, capture_output=True, text=True, cwd=folder)

    data = folder / "data"
    try:
        server_command("initdb", "-D", str(data), "-U", "kd", "--auth=trust", "-E", "UTF8", "--no-sync")
        server_command("pg_ctl", "-D", str(data), "-l", str(folder / "server.log"), "-w", "-t", "60",
                       "-o", f"-p {port} -c listen_addresses=127.0.0.1 -k {folder} -c fsync=off", "start")
        try:
            server_command("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "kd", database)
            yield f"postgresql://kd@127.0.0.1:{port}/{database}"
        finally:
            server_command("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
