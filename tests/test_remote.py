"""A team's round trip through real remotes: a bare git repository and a WebDAV server (WsgiDAV).

One clone trains and pushes; another clones, pulls and finds nothing to re-run; two more each
run half of a grid without retraining the teacher and push their experiments; a last clone's
report lists both; and the trained student is fetched as a registered artifact.
"""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.scratch import environment
from conftest import PROJECT_ROOT
from project import clone_trained, dvc, git, run

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def webdav_url(tmp_path_factory):
    """A WsgiDAV server on 127.0.0.1 serving an empty folder; stopped after the module."""
    root = tmp_path_factory.mktemp("webdav-root")
    (root / "store").mkdir()  # the team's folder on the server, as an admin would create it
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "wsgidav"), "--host", "127.0.0.1", "--port", str(port),
         "--root", str(root), "--auth", "anonymous", "--no-config", "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail("the WebDAV server did not start within 30 s")
    yield f"webdav://127.0.0.1:{port}/store"
    server.terminate()
    server.wait(timeout=10)


def clone(bare: Path, directory: Path) -> Path:
    assert git("clone", "-q", str(bare), str(directory), cwd=bare.parent).returncode == 0
    for key, value in (("user.email", "team@localhost"), ("user.name", "team")):
        git("config", key, value, cwd=directory)
    return directory


@pytest.fixture(scope="module")
def published(tmp_path_factory, webdav_url, trained_repo):
    """Clone A: the pipeline run once, its results committed and pushed to both remotes."""
    base = tmp_path_factory.mktemp("team")
    bare = base / "origin.git"
    assert git("init", "-q", "--bare", str(bare), cwd=base).returncode == 0
    # The tiny pipeline, already run once: its outputs are in this clone's own cache.
    project = clone_trained(trained_repo, base / "a")
    # Two remotes, as a team might have: the WebDAV server, and a shared folder (an NFS mount,
    # say) as the default, which unlike WebDAV also holds DVC's run-cache for sweeps.
    assert dvc("remote", "add", "webdav", webdav_url, cwd=project).returncode == 0
    assert dvc("remote", "add", "-d", "shared", str(base / "shared-folder"), cwd=project).returncode == 0
    assert "up to date" in dvc("status", cwd=project).stdout
    assert git("commit", "-qam", "team remotes", cwd=project).returncode == 0
    assert git("remote", "set-url", "origin", str(bare), cwd=project).returncode == 0
    assert git("push", "-q", "origin", "HEAD:main", cwd=project).returncode == 0
    git("symbolic-ref", "HEAD", "refs/heads/main", cwd=bare)
    for remote in ("webdav", "shared"):
        pushed = dvc("push", "-r", remote, *(["--run-cache"] if remote == "shared" else []), cwd=project)
        assert pushed.returncode == 0, pushed.stderr[-3000:]
    return base, bare, project


def test_a_colleague_pulls_everything_from_the_webdav_server_and_reruns_nothing(published):
    base, bare, _ = published
    colleague = clone(bare, base / "b")
    pulled = dvc("pull", "-r", "webdav", cwd=colleague)
    assert pulled.returncode == 0, pulled.stderr[-3000:]
    assert (colleague / "models" / "teacher.keras").is_file()
    assert "up to date" in dvc("status", cwd=colleague).stdout
    repro = dvc("repro", cwd=colleague)
    assert repro.returncode == 0 and "Running stage" not in repro.stdout, repro.stdout[-3000:]


def test_the_trained_student_is_registered_and_fetched_as_an_artifact(published, tmp_path):
    _, bare, project = published
    # Register a version (a GTO git tag, student@v1.0.0) and share it, as the README shows.
    gto = str(Path(sys.executable).parent / "gto")
    assert run([gto, "register", "student", "--version", "v1.0.0"], project).returncode == 0
    assert git("push", "-q", "origin", "student@v1.0.0", cwd=project).returncode == 0
    fetched = dvc("artifacts", "get", str(bare), "student", "-o", str(tmp_path / "student.keras"), cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stderr[-3000:]
    from distillation.model_files import load_model

    assert load_model(tmp_path / "student.keras").count_params() > 0


def test_two_hosts_split_a_sweep_and_a_third_reports_both(published):
    base, bare, _ = published
    grid = "distill.temp=2,4"
    names = {}
    # The two hosts run at the same time, as a team's would, pushing to the same remotes.
    hosts = {shard: clone(bare, base / f"host-{shard[0]}") for shard in ("1/2", "2/2")}
    sweeps = {shard: subprocess.Popen([sys.executable, "-m", "scripts.sweep", "--grid", grid, "--shard", shard],
                                      cwd=host, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
              for shard, host in hosts.items()}
    for shard, host in hosts.items():
        output, _ = sweeps[shard].communicate(timeout=600)
        assert sweeps[shard].returncode == 0, output[-3000:]
        [summary] = [line for line in output.splitlines() if line.startswith(f"shard {shard}: ")]
        [name] = summary.split(": ")[-1].split()
        names[shard] = name
        log = dvc("queue", "logs", name, cwd=host).stdout
        assert "Running stage 'train_student'" in log
        assert "Running stage 'train_teacher'" not in log, log[-2000:]  # restored, not retrained
    assert names["1/2"] != names["2/2"] and names["1/2"].rsplit("-", 1)[0] == names["2/2"].rsplit("-", 1)[0]

    reporter = clone(bare, base / "reporter")
    assert dvc("pull", cwd=reporter).returncode == 0
    result = run([sys.executable, "-m", "scripts.report"], reporter)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    report = (reporter / "reports" / "report.md").read_text()
    assert names["1/2"] in report and names["2/2"] in report


def test_shards_are_disjoint_and_cover_the_grid():
    from scripts.sweep import parse_grid, shard_points

    grid = parse_grid("distill.temp=1,2,5,10 distill.lambda=0.1,0.5")
    shares = [shard_points(grid, index, 3) for index in (1, 2, 3)]
    names = [name for share in shares for name, _ in share]
    assert len(names) == len(set(names)) == 8
    points = sorted((point["distill.temp"], point["distill.lambda"]) for share in shares for _, point in share)
    assert points == sorted((t, l) for t in ("1", "2", "5", "10") for l in ("0.1", "0.5"))
    assert shard_points(grid, 2, 3) == shard_points(parse_grid("distill.temp=1,2,5,10 distill.lambda=0.1,0.5"), 2, 3)


@pytest.mark.parametrize("grid, shard, message", [
    ("distill.temp", "1/2", "GRID: 'distill.temp' is not key=value"),
    ("distill.temp=1,2", "3/2", "SHARD: '3/2' needs"),
    ("distill.temp=1,2", "half", "SHARD: 'half' is not k/n"),
])
def test_bad_sweep_arguments_get_one_line(grid, shard, message, monkeypatch, capsys):
    from distillation.cli import run_stage
    from scripts import sweep

    monkeypatch.setattr(sys, "argv", ["sweep", "--grid", grid, "--shard", shard])
    with pytest.raises(SystemExit) as exit_status:
        run_stage(sweep.main)  # as `python -m scripts.sweep` runs it, in this process
    error = capsys.readouterr().err
    assert exit_status.value.code == 1 and error.count("\n") == 1 and message in error


def test_sweep_starts_without_tensorflow():
    # Each host's `make sweep` only drives DVC; its runs import TensorFlow in their own stages.
    result = run([sys.executable, "-c", "import sys, scripts.sweep; print(sorted({'keras', 'tensorflow'} & set(sys.modules)))"],
                 PROJECT_ROOT)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr
