"""Running DVC's queue without `dvc exp run --run-all`, which hangs when the queue loses a task."""
from __future__ import annotations

import pytest

import distillation.experiments.queue as cli

STATUS = """Task     Name        Created    Status
36826ce  elder-chat  09:09 AM   {elder}
1957e7f  grade-vacs  09:08 AM   {grade}

Worker status: {workers} active, 0 idle
"""


class FakeQueue:
    """Answers `dvc queue …` from a script of `status` outputs; records every command.

    ``install`` puts it in place of DVC: of every call through ``run_dvc``, and of starting workers.
    """

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.commands = []

    def __call__(self, *arguments, capture=True):
        self.commands.append(arguments)
        if arguments[:2] == ("queue", "status"):
            elder, grade, workers = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            return STATUS.format(elder=elder, grade=grade, workers=workers)
        if arguments[:3] == ("exp", "run", "--queue"):
            return "Queueing with overrides '{'params.yaml': ['x=2']}'.\nQueued experiment 'pudgy-cors' for future execution.\n"
        return ""

    def install(self, monkeypatch) -> "FakeQueue":
        monkeypatch.setattr(cli, "run_dvc", self)
        monkeypatch.setattr(cli, "runs_at_work", lambda names: [])
        monkeypatch.setattr(cli, "start_workers", lambda jobs: self.commands.append(("queue", "start", "-j", str(jobs))))
        return self


def test_queue_status_reads_tasks_and_workers(monkeypatch):
    monkeypatch.setattr(cli, "run_dvc", FakeQueue([("Running", "Success", 2)]))
    assert cli.queue_status() == ({"elder-chat": "Running", "grade-vacs": "Success"}, 2)


def test_queue_experiment_returns_the_name_dvc_gave(monkeypatch):
    monkeypatch.setattr(cli, "run_dvc", FakeQueue([("Queued", "Queued", 0)]))
    assert cli.queue_experiment("-S", "x=2") == "pudgy-cors"


def test_a_task_left_running_without_workers_is_killed_and_reported_lost(monkeypatch, capsys):
    # As seen in a test run: one task done, the other "Running" forever with every worker gone.
    fake = FakeQueue([("Running", "Running", 2), ("Running", "Success", 0)]).install(monkeypatch)
    assert cli.run_queue(["elder-chat", "grade-vacs"], jobs=2, poll_seconds=0, stalled_seconds=0) == ["elder-chat"]
    assert ("queue", "kill", "elder-chat") in fake.commands
    assert fake.commands.count(("queue", "start", "-j", "2")) == 2  # workers started again for what is left
    assert "lost elder-chat" in capsys.readouterr().err


def test_workers_are_topped_up_when_fewer_than_jobs_run_while_tasks_wait(monkeypatch):
    # Seen: one of two workers exited between two batches; the next batch ran on one core.
    fake = FakeQueue([("Queued", "Running", 1), ("Queued", "Running", 1), ("Running", "Running", 2),
                      ("Success", "Success", 0)]).install(monkeypatch)
    assert cli.run_queue(["elder-chat", "grade-vacs"], jobs=2, poll_seconds=0, stalled_seconds=0) == []
    assert fake.commands.count(("queue", "start", "-j", "2")) >= 2
    # With every job's worker there, no more are started.
    fake = FakeQueue([("Running", "Running", 2), ("Success", "Success", 0)]).install(monkeypatch)
    cli.run_queue(["elder-chat", "grade-vacs"], jobs=2, poll_seconds=0, stalled_seconds=0)
    assert fake.commands.count(("queue", "start", "-j", "2")) == 1


def test_a_pause_shorter_than_the_stall_limit_is_waited_out(monkeypatch):
    # No worker for a poll or two happens between tasks; nothing is killed then.
    pause = [("Queued", "Success", 0)] * (cli.STALLED_POLLS - 1)
    fake = FakeQueue([("Running", "Running", 1), *pause, ("Running", "Success", 1), ("Success", "Success", 0)]).install(monkeypatch)
    assert cli.run_queue(["elder-chat", "grade-vacs"], jobs=1, poll_seconds=0, stalled_seconds=0) == []
    assert not any(command[:2] == ("queue", "kill") for command in fake.commands)


def test_many_polls_without_a_worker_in_less_than_the_stall_time_are_waited_out(monkeypatch):
    # A loaded machine: `dvc queue status` misses the busy worker for many quick polls in a row.
    clock = {"now": 0.0}
    monkeypatch.setattr(cli.time, "sleep", lambda seconds: clock.update(now=clock["now"] + seconds))
    monkeypatch.setattr(cli.time, "monotonic", lambda: clock["now"])
    blind = [("Running", "Success", 0)] * (3 * cli.STALLED_POLLS)  # 3 × 4 s each, well under 90 s
    fake = FakeQueue([*blind, ("Success", "Success", 0)]).install(monkeypatch)
    assert cli.run_queue(["elder-chat", "grade-vacs"], jobs=1) == []
    assert not any(command[:2] == ("queue", "kill") for command in fake.commands)


def test_a_run_that_fails_on_its_own_is_one_error_naming_it(monkeypatch):
    FakeQueue([("Failed", "Success", 0)]).install(monkeypatch)
    with pytest.raises(ValueError, match=r"queued experiments failed: elder-chat; see `dvc queue logs elder-chat`"):
        cli.run_queue(["elder-chat", "grade-vacs"], jobs=1, poll_seconds=0)


def test_polls_follow_the_time_waited_between_the_first_poll_and_the_cap(monkeypatch):
    # A short run is noticed within seconds; a long one is polled at most every cap.
    clock = {"now": 0.0}
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        clock["now"] += seconds

    monkeypatch.setattr(cli.time, "sleep", sleep)
    monkeypatch.setattr(cli.time, "monotonic", lambda: clock["now"])
    FakeQueue([("Running", "Success", 1)] * 60 + [("Success", "Success", 0)]).install(monkeypatch)
    assert cli.run_queue(["elder-chat", "grade-vacs"], jobs=1) == []
    assert sleeps[:3] == [cli.QUEUE_FIRST_POLL_SECONDS] * 3  # until 10 × the first poll has passed
    assert all(later >= earlier for earlier, later in zip(sleeps, sleeps[1:]))
    assert max(sleeps) == cli.QUEUE_POLL_SECONDS
    waited = sum(sleeps[:20])
    assert sleeps[20] == max(cli.QUEUE_FIRST_POLL_SECONDS, min(cli.QUEUE_POLL_SECONDS, cli.QUEUE_POLL_FRACTION * waited))


def test_a_run_that_a_process_works_in_is_not_killed_when_the_status_misses_its_worker(monkeypatch, capsys):
    # Seen: the status showed no worker for 90 s on a loaded machine while the run trained its teacher.
    fake = FakeQueue([("Running", "Success", 0)] * 6 + [("Success", "Success", 0)]).install(monkeypatch)
    monkeypatch.setattr(cli, "runs_at_work", lambda names: list(names))
    assert cli.run_queue(["elder-chat", "grade-vacs"], jobs=1, poll_seconds=0, stalled_seconds=0) == []
    assert not any(command[:2] == ("queue", "kill") for command in fake.commands) and "lost" not in capsys.readouterr().err


def test_runs_at_work_are_those_a_process_works_in(tmp_path):
    import json
    import subprocess

    info = tmp_path / "run"
    for name in ("elder-chat", "grade-vacs"):
        (tmp_path / name / "stages").mkdir(parents=True)
        (info / name).mkdir(parents=True)
        (info / name / f"{name}.run").write_text(json.dumps({"name": name, "root_dir": str(tmp_path / name)}))
    (info / "broken").mkdir()
    (info / "broken" / "broken.run").write_text("{not json")
    worker = subprocess.Popen(["sleep", "60"], cwd=tmp_path / "elder-chat" / "stages")
    try:
        assert cli.runs_at_work(["elder-chat", "grade-vacs"], info) == ["elder-chat"]
    finally:
        worker.kill()
        worker.wait()
    assert cli.runs_at_work(["elder-chat", "grade-vacs"], info) == []
    assert cli.runs_at_work(["elder-chat"], info, processes=tmp_path / "no-proc") == []
