"""Faults a team meets while a sweep runs, injected for real on 127.0.0.1 (full tier): the study's
PostgreSQL server restarts, or stays away past the worker's wait, and a worker loses power
between training and recording. Counted after each: trials completed, lost and duplicated.

The trials' training here is a stand-in (a function that sleeps and returns metrics, and marks
the experiment finished); the workers, their heartbeats, the database and its outage are real.
A sweep of real `dvc exp run` trials with a worker killed mid-trial: test_sweeps.py. The disk
filling under a stage: test_disk_full.py; the DVC remote dropping a push: test_remote_faults.py.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest

from conftest import PROJECT_ROOT
from test_sweeps import complete_points, load_study, write_space

GRID = {"distill.temp": [1, 2], "distill.lambda": [0.1, 0.5]}


def grid_space(tmp_path: Path):
    from distillation.config.params import load_params
    from distillation.experiments.sweeps import load_search_space

    return load_search_space(write_space(tmp_path / "grid.yaml", GRID), load_params(PROJECT_ROOT / "params.yaml"))


def every_point_once(study: optuna.Study) -> bool:
    return complete_points(study) == Counter({tuple(sorted({"distill.temp": t, "distill.lambda": l}.items())): 1
                                              for t in GRID["distill.temp"] for l in GRID["distill.lambda"]})


def test_a_database_restart_during_training_loses_and_duplicates_nothing(restartable_postgres, tmp_path, capsys):
    from distillation.experiments.sweeps import open_storage, open_study, quiet_optuna, run_worker

    url, server = restartable_postgres
    space = grid_space(tmp_path)
    quiet_optuna()
    study = open_study("restart", open_storage(url, heartbeat_seconds=1, wait_seconds=60), space, url)
    ran: list[str] = []

    def training(name: str, point: dict) -> dict:
        if not ran:  # the server goes down and comes back while the first trial trains
            server.stop()
            time.sleep(3)
            server.start()
        ran.append(name)
        return {"val_accuracy": point["distill.temp"] * point["distill.lambda"], "test_accuracy": 0.0}

    names = run_worker(study, space, None, poll_seconds=0.1, run=training)
    study = load_study("restart", url)
    assert every_point_once(study), complete_points(study)
    assert names == ran and len(set(names)) == 4  # each trained once, under one name each
    assert not study.get_trials(states=(optuna.trial.TrialState.FAIL, optuna.trial.TrialState.RUNNING))
    assert "the study storage is unreachable" in capsys.readouterr().err  # the wait said so, once it began


# One worker as its own process: a grid trial "trains" (marks its experiment finished in a folder),
# then, per its mode, loses its database past the wait or loses power before recording.
WORKER = textwrap.dedent("""
    import json, os, signal, sys, time
    from pathlib import Path
    sys.path.insert(0, {project!r})
    from distillation.cli import run_stage
    from distillation.config.params import load_params
    from distillation.experiments.sweeps import load_search_space, open_storage, open_study, quiet_optuna, run_worker

    url, space_file, finished_dir, mode = sys.argv[1:5]
    finished_dir = Path(finished_dir)

    def training(name, point):
        metrics = {{"val_accuracy": point["distill.temp"] * point["distill.lambda"], "test_accuracy": 0.0}}
        (finished_dir / f"{{name}}.json").write_text(json.dumps(metrics))  # the experiment is done and kept
        print(f"trained {{name}}", flush=True)
        if mode == "power-cut":
            os.kill(os.getpid(), signal.SIGKILL)  # before anything is recorded
        if mode == "database-gone":
            Path(finished_dir / "stop-the-database").touch()
            while Path(finished_dir / "stop-the-database").exists():
                time.sleep(0.1)  # the test stops the server, then lets the worker record
        return metrics

    def finished(name, git_remote):
        path = finished_dir / f"{{name}}.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def main():
        quiet_optuna()
        space = load_search_space(space_file, load_params({params!r}))
        study = open_study("faults", open_storage(url, heartbeat_seconds=1, wait_seconds=4), space, url)
        ran = run_worker(study, space, None, poll_seconds=0.2, run=training, finished=finished)
        print("ran " + " ".join(ran))

    run_stage(main)
""")


def start_worker(script: Path, url: str, space_file: Path, finished_dir: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(script), url, str(space_file), str(finished_dir), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def first_worker(tmp_path, restartable_postgres):
    """``start(mode)``: the first worker of a study of :data:`GRID` on the test's server; and the
    server, the finished-experiments folder and ``finish()``: a second, normal worker run to its end."""
    url, server = restartable_postgres
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(project=str(PROJECT_ROOT), params=str(PROJECT_ROOT / "params.yaml")))
    space_file = write_space(tmp_path / "grid.yaml", GRID)
    finished = tmp_path / "finished"
    finished.mkdir()

    def start(mode: str) -> subprocess.Popen:
        return start_worker(script, url, space_file, finished, mode)

    def finish() -> tuple[optuna.Study, str]:
        second = start("normal")
        out, err = second.communicate(timeout=180)
        assert second.returncode == 0, (out, err)
        study = load_study("faults", url)
        assert every_point_once(study), complete_points(study)
        return study, out

    return start, finish, url, server, finished


def test_a_worker_whose_database_stays_away_exits_and_its_finished_trial_is_recorded_once(first_worker):
    start, finish, url, server, finished = first_worker
    first = start("database-gone")
    signal_file = finished / "stop-the-database"
    deadline = time.monotonic() + 120
    while not signal_file.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert signal_file.exists(), first.communicate()
    # The clock starts before the stop: the worker's heartbeat may meet the outage while pg_ctl still stops it.
    started = time.monotonic()
    server.stop()
    signal_file.unlink()
    out, err = first.communicate(timeout=120)
    waited = time.monotonic() - started
    assert first.returncode == 1, (out, err)
    assert err.count("error:") == 1, err
    [line] = [line for line in err.splitlines() if line.startswith("error:")]
    assert line.startswith(f"error: {url}: the study storage stayed unreachable for 4 s")
    assert "start `make sweep` again once the database is back" in line
    assert 4 <= waited < 60, waited  # it waited the setting, then stopped

    server.start()
    study, _ = finish()
    trained = sorted(path.stem for path in finished.glob("faults-*.json"))
    recorded = sorted(trial.user_attrs["experiment"] for trial in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))
    assert trained == recorded and len(trained) == 4  # the first worker's trial: recorded under its name, not trained again
    failed = study.get_trials(states=(optuna.trial.TrialState.FAIL,))
    assert len(failed) == 1 and failed[0].user_attrs["experiment"] == "faults-0"  # the stale one, retried


def test_a_worker_that_loses_power_after_training_leaves_its_trial_to_the_next_without_a_second_run(first_worker):
    start, finish, _, _, finished = first_worker
    first = start("power-cut")
    out, err = first.communicate(timeout=120)
    assert first.returncode == -signal.SIGKILL and out.splitlines() == ["trained faults-0"], (out, err)

    study, out = finish()
    trained = [line.split()[1] for line in out.splitlines() if line.startswith("trained ")]
    assert "faults-0" not in trained and len(trained) == 3  # the killed worker's experiment was not run again
    recorded = Counter(trial.user_attrs["experiment"] for trial in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))
    assert recorded == Counter({name: 1 for name in ["faults-0", *trained]})
    assert sorted(json.loads(path.read_text())["val_accuracy"] for path in finished.glob("*.json")) == sorted(
        trial.value for trial in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))
