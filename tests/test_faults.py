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
    wait_seconds, train_seconds = (float(value) for value in (sys.argv[5:7] or ["4", "0"]))
    finished_dir = Path(finished_dir)

    def training(name, point):
        (finished_dir / f"{{name}}.started").touch()  # the test waits for these before it stops the server
        time.sleep(train_seconds)
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
        study = open_study("faults", open_storage(url, heartbeat_seconds=1, wait_seconds=wait_seconds), space, url)
        ran = run_worker(study, space, None, poll_seconds=0.2, run=training, finished=finished)
        print("ran " + " ".join(ran))

    run_stage(main)
""")


def start_worker(script: Path, url: str, space_file: Path, finished_dir: Path, mode: str, *timing: float) -> subprocess.Popen:
    """A worker process; ``timing``: its database wait and each trial's training seconds (default 4 and 0)."""
    return subprocess.Popen([sys.executable, str(script), url, str(space_file), str(finished_dir), mode, *map(str, timing)],
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

    def start(mode: str, *timing: float) -> subprocess.Popen:
        return start_worker(script, url, space_file, finished, mode, *timing)

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


def test_an_outage_past_three_heartbeats_but_within_the_wait_trains_nothing_twice(first_worker):
    """Two workers train (4 s a trial, heartbeats every second, a 12 s wait: a grace of 24 s); the
    server goes away for 8 s, past three missed heartbeats (the grace before) but within the wait.
    Both workers wait it out and carry on: no trial is failed under a worker still training it, so
    none is trained twice, and neither worker is told its running trial failed."""
    start, _, url, server, finished = first_worker
    workers = [start("normal", 12, 4) for _ in range(2)]
    training_started(finished, 2)
    server.stop()
    time.sleep(8)
    server.start()
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    study = load_study("faults", url)
    assert every_point_once(study), complete_points(study)
    assert not study.get_trials(states=(optuna.trial.TrialState.FAIL,))  # nothing failed, so nothing retried
    trained = Counter(line.split()[1] for out, _ in outputs for line in out.splitlines() if line.startswith("trained "))
    assert sorted(trained.values()) == [1, 1, 1, 1], trained
    assert all("the study storage is unreachable" in err for _, err in outputs), outputs


def test_a_worker_silent_past_three_heartbeats_but_within_the_grace_keeps_its_trial(first_worker):
    """What the other workers see of a worker cut off from the database: its heartbeats stop. Here it
    is frozen (SIGSTOP) for 10 s mid-trial, past three heartbeats (the grace before, 3 s) but within
    the grace (12 + 2 + 10 = 24 s, grace_seconds), while a second worker keeps polling the study.
    The second must not fail and retrain the frozen worker's trial; thawed, the first records it.
    (With a grace of three heartbeats this test fails: the point is trained twice and the first
    worker is told its running trial failed.)"""
    start, _, url, server, finished = first_worker
    first = start("normal", 12, 20)
    training_started(finished, 1)
    second = start("normal", 12, 1)
    time.sleep(1)
    first.send_signal(signal.SIGSTOP)
    time.sleep(10)
    first.send_signal(signal.SIGCONT)
    outputs = [worker.communicate(timeout=300) for worker in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    study = load_study("faults", url)
    assert every_point_once(study), complete_points(study)
    assert not study.get_trials(states=(optuna.trial.TrialState.FAIL,))
    trained = Counter(line.split()[1] for out, _ in outputs for line in out.splitlines() if line.startswith("trained "))
    assert sorted(trained.values()) == [1, 1, 1, 1], trained


def test_an_outage_past_the_wait_makes_each_worker_abandon_its_trial_before_the_grace(first_worker):
    """The server stays away past the wait (3 s) while both workers train (20 s a trial): each
    worker's heartbeat gives up, says so in one line, and stops its trial (the worker exits 1)
    before the grace (15 s) would let another fail it. Once the server is back, a new worker
    finishes the study: every point once, no trial recorded twice."""
    start, finish, url, server, finished = first_worker
    workers = [start("normal", 3, 20) for _ in range(2)]
    training_started(finished, 2)  # both in training, their heartbeat threads the only ones to meet the outage
    server.stop()
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert [worker.returncode for worker in workers] == [1, 1], outputs
    for _, err in outputs:
        [line] = [line for line in err.splitlines() if line.startswith("error:")]
        assert "stayed unreachable for 3 s" in line and line.endswith("its experiment is stopped"), err
    assert not list(finished.glob("faults-*.json"))  # stopped mid-training: nothing was finished
    server.start()
    study, _ = finish()
    assert len(study.get_trials(states=(optuna.trial.TrialState.FAIL,))) == 2  # the two abandoned, each retried once


def training_started(finished: Path, count: int) -> None:
    deadline = time.monotonic() + 120
    while len(list(finished.glob("*.started"))) < count:
        assert time.monotonic() < deadline, "the workers did not start training within 2 minutes"
        time.sleep(0.1)


def test_a_trial_left_without_any_heartbeat_is_retried_and_the_sweep_ends(first_worker, tmp_path):
    """A worker killed between creating its trial and its first heartbeat leaves a running trial that
    Optuna's own check never reclaims (it has no heartbeat to be stale): the next worker fails it
    once the grace has passed since it started, retries its point and finishes the study."""
    from distillation.experiments.sweeps import grace_seconds, open_storage, open_study, quiet_optuna

    start, finish, url, _, _ = first_worker
    quiet_optuna()
    storage = open_storage(url, heartbeat_seconds=1, wait_seconds=4)
    study = open_study("faults", storage, grid_space(tmp_path), url)
    orphan = study.ask()  # the killed worker's trial: created, never a heartbeat
    assert storage.grace_period == grace_seconds(1, 4) == 16
    started = time.monotonic()
    study, _ = finish()
    assert time.monotonic() - started >= 16 - 1  # not before its grace
    failed = study.get_trials(states=(optuna.trial.TrialState.FAIL,))
    assert [trial.number for trial in failed] == [orphan.number]
    assert not study.get_trials(states=(optuna.trial.TrialState.RUNNING,))
