"""Running DVC and its task queue from the scripts (``make compare``, ``make sweep``, ``make report``)."""
from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# `dvc queue status` costs about 0.7 s of CPU that the runs need: poll every tenth of the time
# waited so far, at least every QUEUE_FIRST_POLL_SECONDS and at most every QUEUE_POLL_SECONDS,
# so a run is noticed done within a few seconds and a long queue costs little.
QUEUE_POLL_SECONDS = 15.0
QUEUE_POLL_FRACTION = 0.1
QUEUE_FIRST_POLL_SECONDS = 4.0
# Polls in a row with tasks left but no worker, over at least STALLED_SECONDS, before the queue
# counts as stalled: workers take a moment to start and between two tasks, and on a loaded
# machine `dvc queue status` can miss a busy worker for several polls (a live run was once killed
# for it 12 s into a phase).
STALLED_POLLS = 3
STALLED_SECONDS = 90.0
QUEUE_ATTEMPTS = 3  # passes through the queue before a run that keeps going missing is an error


def run_dvc(*arguments: str, capture: bool = True, log: Path | None = None, die_with_parent: bool = False) -> str:
    """Run DVC with this interpreter; return its stdout. Every script calls DVC through here.

    Its output is captured (``capture``), written to ``log`` (stdout and stderr together), or
    shown live. ``die_with_parent``: on Linux the run is killed when this process dies, so a
    killed worker leaves no DVC run going. A failure is one ``ValueError`` line naming the
    command and DVC's last word (and the log).
    """
    command = [sys.executable, "-m", "dvc", *arguments]
    preexec = _die_with_parent if die_with_parent else None
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as output:
            status = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, preexec_fn=preexec, check=False).returncode
        if status != 0:
            raise ValueError(f"{dvc_failure(arguments, status, log.read_text())}; see {log}")
        return ""
    result = subprocess.run(command, capture_output=capture, text=True, preexec_fn=preexec, check=False)
    if result.returncode != 0:
        raise dvc_failure(arguments, result.returncode, result.stderr if capture else "")
    return result.stdout if capture else ""


def has_git_remote(name: str) -> bool:
    """Whether this clone has the git remote ``name`` (where experiments are pushed and pulled)."""
    return bool(name) and subprocess.run(["git", "remote", "get-url", name], capture_output=True, check=False).returncode == 0


def _die_with_parent() -> None:
    # Linux's PR_SET_PDEATHSIG: the kernel sends the child SIGKILL when its parent dies.
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def dvc_failure(arguments: tuple[str, ...], status: int, output: str) -> ValueError:
    """One line naming the DVC command, its exit status and, if any, DVC's last word in ``output``."""
    detail = [line for line in (output or "").strip().splitlines() if line.strip()][-1:]
    return ValueError(f"`dvc {' '.join(arguments[:3])} …` failed (exit {status}){': ' + detail[0] if detail else ''}")


def start_workers(jobs: int) -> None:
    """``dvc queue start -j jobs``, returning as soon as the workers are started.

    The workers DVC starts inherit this command's output: captured through a pipe, the call would
    wait until the last worker exits, that is, until the queue is empty, and the watchdog would
    only ever see the end. Their output goes to a temporary file instead.
    """
    arguments = ("queue", "start", "-j", str(jobs))
    with tempfile.TemporaryFile(mode="w+") as output:
        status = subprocess.run([sys.executable, "-m", "dvc", *arguments], stdout=output, stderr=subprocess.STDOUT, check=False).returncode
        if status != 0:
            output.seek(0)
            raise dvc_failure(arguments, status, output.read())


def set_arguments(overrides: dict[str, Any]) -> list[str]:
    """``-S key=value`` arguments for ``dvc exp run``, values in YAML spelling."""
    arguments = []
    for key, value in overrides.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        arguments += ["-S", f"{key}={text}"]
    return arguments


def queue_experiment(*arguments: str) -> str:
    """``dvc exp run --queue`` with ``arguments`` (e.g. ``-S key=value``); return the queued run's name."""
    output = run_dvc("exp", "run", "--queue", *arguments)
    named = re.search(r"Queued experiment '([^']+)'", output)
    if not named:
        raise ValueError(f"`dvc exp run --queue {' '.join(arguments)}` did not say which experiment it queued")
    return named.group(1)


RUN_INFO = Path(".dvc/tmp/exps/run")  # DVC's record of each queued run: its name and its copy's folder


def runs_at_work(names: list[str], info_dir: Path = RUN_INFO, processes: Path = Path("/proc")) -> list[str]:
    """The queued runs of ``names`` that some process is working in: its working folder is inside
    the run's temporary copy (DVC's ``root_dir``). Read from Linux's ``/proc``; elsewhere none."""
    roots = {}
    for info in Path(info_dir).glob("*/*.run"):
        try:
            record = json.loads(info.read_text())
        except (OSError, ValueError):
            continue
        if record.get("name") in names and record.get("root_dir"):
            roots[record["name"]] = Path(record["root_dir"])
    if not roots or not Path(processes).is_dir():
        return []
    folders = []
    for link in Path(processes).glob("[0-9]*/cwd"):
        try:
            folders.append(Path(os.readlink(link)))
        except OSError:  # gone, or not ours to read
            continue
    return sorted(name for name, root in roots.items() if any(folder == root or root in folder.parents for folder in folders))


def queue_status() -> tuple[dict[str, str], int]:
    """``dvc queue status`` as ({experiment name: status}, number of workers, active or idle)."""
    tasks, workers = {}, 0
    for line in run_dvc("queue", "status").splitlines():
        fields = line.split()
        counts = re.match(r"Worker status: (\d+) active, (\d+) idle", line.strip())
        if counts:
            workers = int(counts.group(1)) + int(counts.group(2))
        elif len(fields) >= 3 and fields[0] != "Task" and fields[-1] in ("Queued", "Running", "Success", "Failed"):
            tasks[fields[1]] = fields[-1]
    return tasks, workers


def run_queue(names: list[str], jobs: int, poll_seconds: float = QUEUE_POLL_SECONDS,
              stalled_seconds: float = STALLED_SECONDS) -> list[str]:
    """Run the queued experiments ``names`` on ``jobs`` workers; return those DVC's queue lost.

    Not ``dvc exp run --run-all``: that waits forever when DVC's task queue loses a task (every
    worker gone, one task left "Running" with no log; treeverse/dvc#8165, #10398, #10562 — it
    happened to our tests). This starts workers, polls ``dvc queue status``, starts workers again
    when queued tasks are left without any, and kills tasks left "Running" without a worker.
    The killed ones are returned for the caller to queue again. A run that fails on its own
    raises one ``ValueError`` line that names it.
    """
    lost: list[str] = []
    stalled, done_before, no_worker_since, short_since = 0, -1, 0.0, None
    start_workers(jobs)
    started = time.monotonic()
    while True:
        waited = time.monotonic() - started
        time.sleep(min(poll_seconds, max(QUEUE_FIRST_POLL_SECONDS, QUEUE_POLL_FRACTION * waited)))
        tasks, workers = queue_status()
        mine = {name: tasks.get(name, "Success") for name in names if name not in lost}
        done = sum(status == "Success" for status in mine.values())
        if done != done_before:
            print(f"queue: {done} of {len(names)} runs done", flush=True)
            done_before = done
        failed = [name for name, status in mine.items() if status == "Failed"]
        if failed:
            raise ValueError(f"queued experiments failed: {', '.join(failed)}; see `dvc queue logs {failed[0]}`")
        waiting = [name for name, status in mine.items() if status == "Queued"]
        running = [name for name, status in mine.items() if status == "Running"]
        if not waiting and not running:
            return lost
        now = time.monotonic()
        if workers or not stalled:
            no_worker_since = now
        stalled = 0 if workers else stalled + 1
        # Fewer workers than jobs while tasks wait (seen: one of two workers exited between two
        # batches, and a 22-run batch went on one core): top up, once the shortfall has lasted as
        # long as a stall must (a loaded machine's status can miss a busy worker for a while).
        if waiting and 0 < workers < min(jobs, len(waiting) + len(running)):
            short_since = now if short_since is None else short_since
            if now - short_since >= stalled_seconds:
                start_workers(jobs)
                short_since = None
        else:
            short_since = None
        if stalled >= STALLED_POLLS and now - no_worker_since >= stalled_seconds:
            at_work = runs_at_work(running)
            if at_work:
                # The status missed a busy worker: a process is working in the run's copy. Seen:
                # a 2-hour study's first run killed 10 minutes in, its teacher trained, while the
                # tests loaded the machine.
                no_worker_since, stalled = now, 0
                continue
            if running:
                run_dvc("queue", "kill", *running)
                lost += running
                print(f"warning: DVC's queue lost {', '.join(running)} (no worker runs it); will queue it again", file=sys.stderr)
            start_workers(jobs)
            stalled = 0
