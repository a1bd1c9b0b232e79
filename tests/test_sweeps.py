"""Sweeps as Optuna studies (``make sweep``): real workers, real DVC experiments, a real PostgreSQL server.

The team's tests start PostgreSQL on 127.0.0.1 (tests/postgres.py) and give each worker its own
clone of a bare git repository, with a shared-folder DVC remote that holds the run-cache.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest
import yaml

from distillation.experiments.scratch import environment
from conftest import PROJECT_ROOT
from postgres import server_binaries
from project import clone, clone_trained, dvc, free_port, git, run

SWEEP = [sys.executable, "-m", "scripts.sweep"]


def write_space(path: Path, space: dict, **settings) -> Path:
    path.write_text(yaml.safe_dump({**settings, "space": space}))
    return path


def load_study(name: str, storage: str) -> optuna.Study:
    """The study ``name``; polled while workers start, so it may race them to create Optuna's tables
    on a new database (a unique violation in PostgreSQL's catalogue): then it tries again."""
    import sqlalchemy

    from distillation.experiments.sweeps import database_url

    for attempt in range(5):
        try:
            return optuna.load_study(study_name=name, storage=database_url(storage))
        except sqlalchemy.exc.IntegrityError:
            if attempt == 4:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


def complete_points(study: optuna.Study) -> Counter:
    return Counter(tuple(sorted(trial.params.items())) for trial in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))


def start_worker(directory: Path, *arguments: str) -> subprocess.Popen:
    return subprocess.Popen([*SWEEP, *arguments], cwd=directory, env=environment(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def trial_log(directory: Path, name: str) -> str:
    return (directory / ".dvc" / "tmp" / "sweeps" / f"{name}.log").read_text()


# --- the search-space file and bad input -------------------------------------------------------

def test_the_shipped_grid_has_sixteen_points_and_the_searcher_file_is_valid():
    from distillation.config.params import load_params
    from distillation.experiments.sweeps import load_search_space

    params = load_params(PROJECT_ROOT / "params.yaml")
    grid = load_search_space(PROJECT_ROOT / "sweeps" / "kd.yaml", params)
    assert grid.sampler == "grid" and grid.size() == 16
    assert {(point["distill.temp"], point["distill.lambda"]) for point in grid.points()} == \
        {(t, l) for t in (1, 2, 5, 10) for l in (0.1, 0.25, 0.5, 0.75)}
    searcher = load_search_space(PROJECT_ROOT / "sweeps" / "kd-tpe.yaml", params)
    assert searcher.sampler == "tpe" and searcher.size() == 24


@pytest.mark.parametrize("content, message", [
    ({"samplr": "grid", "space": {"distill.temp": [1]}}, "space.yaml: unknown key 'samplr'"),
    ({"space": {"distill.tmp": [1, 2]}}, "space.yaml: space.distill.tmp: not a params.yaml key"),
    ({"space": {"distill.temp": [2, -1]}}, "distill.temp"),
    ({"space": {"distill.temp": {"low": 1, "high": 20}}}, "space.yaml: space.distill.temp: a range needs a searcher"),
    ({"sampler": "tpe", "space": {"distill.temp": {"low": 1, "high": 20}}}, "space.yaml: trials: sampler tpe needs"),
    ({"sampler": "tpe", "trials": 4, "space": {"distill.temp": {"low": 1, "hgh": 20}}}, "space.yaml: space.distill.temp"),
    ({"space": {"replicate": [0, 1]}}, "space.yaml: space.replicate: a sweep searches settings"),
])
def test_a_bad_space_file_gets_one_line_naming_it_and_nothing_is_made(content, message, tmp_path, monkeypatch, capsys):
    from distillation.cli import run_stage
    from scripts import sweep

    shutil.copy(PROJECT_ROOT / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(content))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["sweep", "--space", "space.yaml"])
    with pytest.raises(SystemExit) as exit_status:
        run_stage(sweep.main)
    error = capsys.readouterr().err
    assert exit_status.value.code == 1 and error.count("\n") == 1 and message in error, error
    assert sorted(path.name for path in tmp_path.iterdir()) == ["params.yaml", "space.yaml"]  # no study database


def test_a_study_name_that_cannot_name_experiments_is_refused_before_anything_is_made(tmp_path, monkeypatch, capsys):
    from distillation.cli import run_stage
    from scripts import sweep

    shutil.copy(PROJECT_ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["sweep", "--space", str(PROJECT_ROOT / "sweeps" / "kd.yaml"), "--study", "my sweep"])
    with pytest.raises(SystemExit) as exit_status:
        run_stage(sweep.main)
    error = capsys.readouterr().err
    assert exit_status.value.code == 1 and error.count("\n") == 1 and "study name 'my sweep': letters, digits" in error
    assert sorted(path.name for path in tmp_path.iterdir()) == ["params.yaml"]  # no study database


def test_an_unreachable_database_gets_one_line_naming_the_url(tmp_path, monkeypatch, capsys):
    from distillation.cli import run_stage
    from scripts import sweep

    shutil.copy(PROJECT_ROOT / "params.yaml", tmp_path / "params.yaml")
    port = free_port()  # nobody listens there
    url = f"postgresql://kd:hunter2@secret@127.0.0.1:{port}/sweeps?sslmode=disable&password=hunter3"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["sweep", "--space", str(PROJECT_ROOT / "sweeps" / "kd.yaml"), "--storage", url])
    with pytest.raises(SystemExit) as exit_status:
        run_stage(sweep.main)
    error = capsys.readouterr().err
    assert exit_status.value.code == 1 and error.count("\n") == 1, error
    shown = f"postgresql://kd:***@127.0.0.1:{port}/sweeps?sslmode=disable&password=***"
    # The driver splits at the first '@' and names "secret@127.0.0.1" as the host: hidden there too.
    assert error.startswith(f"error: {shown}: cannot open the study storage (") and "***@127.0.0.1" in error, error
    assert "hunter" not in error + capsys.readouterr().out and "secret" not in error  # no password in any line printed


@pytest.mark.parametrize("url, hidden", [
    ("postgresql://kd:p@ss@db:5432/sweeps", "postgresql://kd:***@db:5432/sweeps"),  # a password holding '@'
    ("postgresql://kd:a/b:c@db/sweeps", "postgresql://kd:***@db/sweeps"),
    ("postgresql://kd@db/sweeps?password=x&sslmode=require", "postgresql://kd@db/sweeps?password=***&sslmode=require"),
    ("postgresql://db/sweeps?user=kd&PASSWORD=x;sslpassword=y", "postgresql://db/sweeps?user=kd&PASSWORD=***;sslpassword=***"),
    ("postgresql:///?service=sweeps", "postgresql:///?service=sweeps"),
    ("sqlite:///sweeps.db", "sqlite:///sweeps.db"),
])
def test_every_credential_in_a_storage_url_is_hidden(url, hidden):
    from distillation.experiments.sweeps import shown

    assert shown(url) == hidden


@pytest.mark.parametrize("target", ["sweep", "sweep-dashboard"])
def test_make_sweep_puts_the_storage_url_in_no_command_line(target):
    # `make -n` prints every recipe line, as make echoes them when it runs: the URL is not in one.
    result = subprocess.run(["make", "-n", target, "STORAGE=postgresql://kd:hunter2@db/sweeps"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0 and "scripts.sweep" in result.stdout and "hunter2" not in result.stdout, result.stdout


def test_a_study_with_another_search_space_under_the_same_name_is_refused(tmp_path, monkeypatch, capsys):
    from distillation.cli import run_stage
    from distillation.config.params import load_params
    from distillation.experiments.sweeps import load_search_space, open_storage, open_study
    from scripts import sweep

    shutil.copy(PROJECT_ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    first = load_search_space(write_space(tmp_path / "first.yaml", {"distill.temp": [2, 4]}), load_params())
    open_study("temps", open_storage(storage), first, storage)
    write_space(tmp_path / "second.yaml", {"distill.temp": [2, 8]})
    monkeypatch.setattr(sys, "argv", ["sweep", "--space", "second.yaml", "--study", "temps", "--storage", storage])
    with pytest.raises(SystemExit) as exit_status:
        run_stage(sweep.main)
    error = capsys.readouterr().err
    assert exit_status.value.code == 1 and error.count("\n") == 1, error
    assert f"study 'temps' in {storage} was made with another search space" in error
    assert load_study("temps", storage).get_trials() == []  # nothing queued


def race_workers(storage: str, name: str, space, workers: int, fake_run) -> list[str]:
    """``workers`` workers as threads on one study, each run ``fake_run``; the experiments they ran.

    The scheduling alone: a thread's exception fails the test (it would otherwise only warn).
    """
    from distillation.experiments.sweeps import open_storage, open_study, quiet_optuna, run_worker

    quiet_optuna()
    names: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            study = open_study(name, open_storage(storage), space, storage)
            names.extend(run_worker(study, space, None, poll_seconds=0.1, run=fake_run))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return names


def test_a_grid_is_run_once_point_by_point_by_three_workers_at_once(tmp_path):
    # However three workers race, each point completes exactly once and no two trials share a name.
    from distillation.config.params import load_params
    from distillation.experiments.sweeps import load_search_space

    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    space = load_search_space(write_space(tmp_path / "grid.yaml", {"distill.temp": [1, 2, 3], "distill.lambda": [0.1, 0.5]}),
                              load_params(PROJECT_ROOT / "params.yaml"))

    def fake_run(name: str, point: dict) -> dict:
        time.sleep(0.05)
        return {"val_accuracy": point["distill.temp"] * point["distill.lambda"], "test_accuracy": 0.0}

    names = race_workers(storage, "grid", space, 3, fake_run)
    study = load_study("grid", storage)
    assert complete_points(study) == Counter({tuple(sorted({"distill.temp": t, "distill.lambda": l}.items())): 1
                                              for t in (1, 2, 3) for l in (0.1, 0.5)})
    assert len(names) == len(set(names)) == 6
    assert study.best_params == {"distill.temp": 3, "distill.lambda": 0.5}


def test_a_searcher_is_one_setting_away_and_runs_its_number_of_trials(tmp_path):
    # sampler: tpe over ranges, two workers: exactly `trials` complete, every value in its range.
    from distillation.config.params import load_params
    from distillation.experiments.sweeps import load_search_space

    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    space = load_search_space(write_space(tmp_path / "tpe.yaml", {"distill.temp": {"low": 1, "high": 20, "log": True},
                                                                   "distill.lambda": {"low": 0.05, "high": 0.95}},
                                          sampler="tpe", trials=7, seed=3), load_params(PROJECT_ROOT / "params.yaml"))
    race_workers(storage, "tpe", space, 2,
                 lambda name, point: {"val_accuracy": -abs(point["distill.temp"] - 4), "test_accuracy": 0.0})
    trials = load_study("tpe", storage).get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(trials) == 7
    assert all(1 <= trial.params["distill.temp"] <= 20 and 0.05 <= trial.params["distill.lambda"] <= 0.95 for trial in trials)


def test_the_dashboard_serves_a_study(tmp_path, optuna_dashboard):
    import urllib.request

    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    optuna.create_study(study_name="watched", storage=storage).enqueue_trial({"x": 1.0})
    with urllib.request.urlopen(f"{optuna_dashboard(storage)}/api/studies", timeout=10) as response:
        studies = json.loads(response.read())["study_summaries"]
    assert [study["study_name"] for study in studies] == ["watched"]


# --- real runs ---------------------------------------------------------------------------------

def test_the_embedded_default_runs_a_study_with_no_server(trained_repo, tmp_path):
    # One person, one machine: no database server, no remotes; the study is sweeps.db in the clone.
    project = clone_trained(trained_repo, tmp_path / "alone")
    assert git("remote", "remove", "origin", cwd=project).returncode == 0
    space = write_space(tmp_path / "temps.yaml", {"distill.temp": [2, 4]})
    result = run([*SWEEP, "--space", str(space)], project, timeout=900)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "study temps: this worker ran 2 trials" in result.stdout
    study = load_study("temps", f"sqlite:///{project / 'sweeps.db'}")
    trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert sorted(trial.params["distill.temp"] for trial in trials) == [2, 4]
    from dvc.api import exp_show

    rows = {row["Experiment"]: row for row in exp_show(repo=str(project)) if row.get("Experiment")}
    for trial in trials:
        name = trial.user_attrs["experiment"]
        assert name == f"temps-{trial.number}" and name in rows
        log = trial_log(project, name)
        assert "Running stage 'train_student'" in log and "Running stage 'train_teacher'" not in log
        # the objective is the experiment's own student val accuracy; test is only recorded
        assert trial.value == pytest.approx(rows[name]["metrics/student.json:val_accuracy"])
        assert trial.user_attrs["test_accuracy"] == rows[name]["metrics/student.json:test_accuracy"]
    assert git("status", "--porcelain", cwd=project).stdout == ""  # the workspace is as it was


needs_postgres = pytest.mark.skipif(server_binaries() is None, reason="PostgreSQL's server binaries not found (set PG_BIN)")


@pytest.fixture(scope="module")
def team(tmp_path_factory, trained_repo):
    """A bare git origin and a shared-folder DVC remote (with the run-cache) holding the trained tiny project."""
    base = tmp_path_factory.mktemp("sweep-team")
    bare = base / "origin.git"
    assert git("init", "-q", "--bare", str(bare), cwd=base).returncode == 0
    project = clone_trained(trained_repo, base / "first")
    assert dvc("remote", "add", "-d", "shared", str(base / "shared-folder"), cwd=project).returncode == 0
    assert git("commit", "-qam", "team remote", cwd=project).returncode == 0
    assert git("remote", "set-url", "origin", str(bare), cwd=project).returncode == 0
    assert git("push", "-q", "origin", "HEAD:main", cwd=project).returncode == 0
    git("symbolic-ref", "HEAD", "refs/heads/main", cwd=bare)
    pushed = dvc("push", "--run-cache", cwd=project)
    assert pushed.returncode == 0, pushed.stderr[-3000:]
    return base, bare


def report_of(bare: Path, directory: Path) -> str:
    reporter = clone(bare, directory)
    assert dvc("pull", cwd=reporter).returncode == 0
    result = run([sys.executable, "-m", "scripts.report", "--pull"], reporter)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return (reporter / "reports" / "report.md").read_text()


@needs_postgres
def test_a_worker_killed_mid_trial_is_retried_by_the_other(team, postgres_url):
    """Two workers in two clones share one study on PostgreSQL; one is killed mid-trial."""
    base, bare = team
    space = write_space(base / "killed.yaml", {"distill.temp": [3, 5]})
    hosts = [clone(bare, base / f"killed-host-{index}") for index in (1, 2)]
    # A password in the URL (libpq accepts it; the test server's trust login ignores it) must show in
    # no line a worker prints: its log is grepped below.
    # The grace before a silent worker's trial is retried: 5 + 2 × 3 + 10 = 21 s (grace_seconds).
    arguments = ("--space", str(space), "--storage", f"{postgres_url}?password=hunter2-secret", "--heartbeat", "3",
                 "--database-wait", "5")
    workers = [start_worker(host, *arguments) for host in hosts]
    victim = None
    deadline = time.monotonic() + 600
    while victim is None and time.monotonic() < deadline:  # a trial well into its run: kill its worker
        time.sleep(1)
        try:
            study = load_study("killed", postgres_url)
        except KeyError:
            continue
        for trial in study.get_trials(states=(optuna.trial.TrialState.RUNNING,)):
            worker = next((w for w in workers if trial.user_attrs.get("worker", "").endswith(f":{w.pid}")), None)
            name = trial.user_attrs.get("experiment")
            host = hosts[workers.index(worker)] if worker else None
            if host and (host / ".dvc" / "tmp" / "sweeps" / f"{name}.log").is_file() and \
                    "Running stage" in trial_log(host, name):
                victim, victim_trial, victim_host = worker, trial, host
                break
    assert victim is not None, "no trial started within 10 min"
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=60)
    [survivor] = [worker for worker in workers if worker is not victim]
    output = survivor.communicate(timeout=900)[0]
    assert survivor.returncode == 0, output[-3000:]
    assert "storage " in output and "password=***" in output and "hunter2" not in output

    study = load_study("killed", postgres_url)
    assert study.trials[victim_trial.number].state == optuna.trial.TrialState.FAIL
    retries = [trial for trial in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
               if trial.system_attrs.get("failed_trial") == victim_trial.number]
    assert len(retries) == 1 and retries[0].params == victim_trial.params
    assert complete_points(study) == Counter({(("distill.temp", t),): 1 for t in (3, 5)})
    survivor_host = hosts[workers.index(survivor)]
    for trial in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)):
        log = trial_log(survivor_host, trial.user_attrs["experiment"])
        assert "Running stage 'train_student'" in log and "Running stage 'train_teacher'" not in log  # from the run-cache
    killed_name = victim_trial.user_attrs["experiment"]
    assert killed_name not in dvc("exp", "list", "--name-only", cwd=victim_host).stdout  # nothing half-written
    assert killed_name not in dvc("exp", "list", "origin", "--name-only", cwd=victim_host).stdout
    report = report_of(bare, base / "killed-reporter")
    assert killed_name not in report
    assert all(trial.user_attrs["experiment"] in report for trial in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))


def test_a_trial_whose_worker_lost_power_after_training_is_recorded_from_its_experiment_not_run_again(team):
    """A power cut between training and recording, for real: a worker's `dvc exp run` finishes (its
    experiment appears in the clone) and the worker is killed (SIGKILL) before the trial is recorded,
    the trial still *running* in the study, its heartbeats stopped. The next worker retries it by
    recording that experiment under its own name, not training it again."""
    base, bare = team
    host = clone(bare, base / "power-host")
    assert dvc("pull", cwd=host).returncode == 0
    space_file = write_space(base / "power.yaml", {"distill.temp": [6]})
    storage = f"sqlite:///{host / 'sweeps.db'}"
    # A grace of max(3 × 1, 0 + 2 × 1 + 10) = 12 s before the silent trial is retried (grace_seconds).
    arguments = ("--space", str(space_file), "--storage", storage, "--heartbeat", "1", "--database-wait", "0")
    first = start_worker(host, *arguments)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and first.poll() is None:
        refs = git("for-each-ref", "--format=%(refname)", "refs/exps", cwd=host).stdout
        if refs.rstrip().endswith("/power-0"):  # trained and saved: now the worker reads and records it
            os.kill(first.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    first.communicate(timeout=60)
    assert first.returncode == -signal.SIGKILL, "the worker ended before its experiment appeared"
    study = load_study("power", storage)
    assert [trial.state for trial in study.trials] == [optuna.trial.TrialState.RUNNING]  # killed before recording

    result = run([*SWEEP, *arguments], host, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    study = load_study("power", storage)
    assert [trial.state for trial in study.trials] == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.COMPLETE]
    retry = study.trials[1]
    assert retry.user_attrs["experiment"] == "power-0" and retry.system_attrs["failed_trial"] == 0
    from dvc.api import exp_show

    [row] = [row for row in exp_show(repo=str(host)) if row.get("Experiment") == "power-0"]
    assert retry.value == pytest.approx(row["metrics/student.json:val_accuracy"])
    assert not (host / ".dvc" / "tmp" / "sweeps" / "power-1.log").exists()  # nothing trained again
    assert dvc("exp", "list", "--name-only", cwd=host).stdout.split() == ["power-0"]
    on_origin = [name for name in dvc("exp", "list", "origin", "--name-only", cwd=host).stdout.split() if name.startswith("power-")]
    assert on_origin == ["power-0"]  # pushed once, under one name (the team's origin holds other tests' experiments too)


# --- the database and the grace, in-process -----------------------------------------------------

def test_the_grace_outlasts_any_wait_a_worker_sits_out():
    from distillation.experiments.sweeps import CONNECT_TIMEOUT_SECONDS, DATABASE_WAIT_SECONDS, HEARTBEAT_SECONDS, grace_seconds

    # The defaults: a worker that lost the database waits 300 s, its last heartbeat up to 60 s
    # before that, each attempt up to the connect timeout: its trial is not failed before 430 s.
    assert grace_seconds(HEARTBEAT_SECONDS, DATABASE_WAIT_SECONDS) == 300 + 2 * 60 + CONNECT_TIMEOUT_SECONDS == 430
    for heartbeat, wait in ((1, 0), (3, 5), (60, 0), (60, 3600)):
        assert grace_seconds(heartbeat, wait) >= max(3 * heartbeat, wait + 2 * heartbeat)


def test_a_trial_whose_worker_died_before_its_first_heartbeat_is_failed_and_retried(tmp_path):
    import datetime

    from distillation.experiments.sweeps import open_storage

    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}", heartbeat_seconds=1, wait_seconds=0)
    study = optuna.create_study(study_name="silent", storage=storage)
    started = datetime.datetime.now()

    def silent_trial(age_seconds: float) -> int:  # made by ask(), its worker gone before any heartbeat
        return storage.create_new_trial(study._study_id, optuna.trial.FrozenTrial(
            number=-1, state=optuna.trial.TrialState.RUNNING, value=None, params={}, distributions={}, user_attrs={},
            system_attrs={}, intermediate_values={}, trial_id=-1, datetime_complete=None,
            datetime_start=started - datetime.timedelta(seconds=age_seconds)))

    old, young = silent_trial(storage.grace_period + 5), silent_trial(1)
    optuna.storages.fail_stale_trials(study)
    states = {trial._trial_id: trial.state for trial in study.get_trials(deepcopy=False)}
    assert states[old] == optuna.trial.TrialState.FAIL and states[young] == optuna.trial.TrialState.RUNNING
    assert [trial.system_attrs.get("failed_trial") for trial in study.get_trials(states=(optuna.trial.TrialState.WAITING,))] == [0]


def test_a_trial_made_by_an_insert_whose_answer_was_lost_is_not_made_twice(tmp_path, monkeypatch):
    import sqlalchemy.exc
    from optuna.storages import RDBStorage

    from distillation.experiments.sweeps import open_storage

    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}", heartbeat_seconds=1, wait_seconds=5)
    study = optuna.create_study(study_name="lost-answer", storage=storage)
    real_create, calls = RDBStorage._create_new_trial, []

    def committed_then_lost(self, study_id, template_trial=None):
        calls.append(template_trial)
        made = real_create(self, study_id, template_trial)
        if len(calls) == 1:  # the row is in; the connection drops before the answer comes back
            raise sqlalchemy.exc.OperationalError("INSERT INTO trials", {}, Exception("server closed the connection unexpectedly"))
        return made

    monkeypatch.setattr(RDBStorage, "_create_new_trial", committed_then_lost)
    trial = study.ask()
    assert len(calls) == 1 and len(study.get_trials(deepcopy=False)) == 1  # found by its token, not made again
    assert study.get_trials(deepcopy=False)[0]._trial_id == trial._trial_id
