"""The helpers that start the full tier's servers: a port no other process is handed meanwhile, and
a wait that returns only once *that* server listens there (not whatever else might)."""
from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from _pytest.outcomes import Failed

from project import _ports_of_this_worker, free_port, wait_for_port


def test_ports_come_from_below_the_ephemeral_range_and_each_worker_has_its_own(monkeypatch):
    ranges = Path("/proc/sys/net/ipv4/ip_local_port_range")
    low = int(ranges.read_text().split()[0]) if ranges.exists() else 32768
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    shares = []
    for worker in ("gw0", "gw1", "gw2"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        shares.append(set(_ports_of_this_worker()))
        assert max(shares[-1]) < low and free_port() in shares[-1]
    assert not (shares[0] & shares[1]) and not (shares[1] & shares[2]) and not (shares[0] & shares[2])


def test_the_wait_fails_when_another_process_holds_the_port_and_returns_for_the_server():
    port = free_port()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        silent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            with pytest.raises(Failed, match="did not start within 1 s"):
                wait_for_port(port, "a server that never listens", silent, seconds=1)
        finally:
            silent.kill()
            silent.wait()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, "http.server", server)
    finally:
        server.terminate()
        server.wait()
    crashed = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(Failed, match="exited with 3 before listening"):
        wait_for_port(port, "a crashing server", crashed, seconds=10)
