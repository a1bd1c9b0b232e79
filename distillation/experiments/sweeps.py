"""Sweeps as Optuna studies: a search space from a file, a study in a database, each trial a DVC experiment.

A *study* lives in Optuna's storage (SQLite for one machine, PostgreSQL for a team); any number of
*workers* (``make sweep``) on any hosts pull trials from it. A trial is one ``dvc exp run --temp``
of this project, named ``<study>-<trial number>`` (unique across hosts), its objective the
student's val accuracy (test is only recorded). Workers send heartbeats; a trial whose worker died
is failed by the next worker that looks and retried with the same params (Optuna's
``RetryHeartbeatStaleTrialCallback``). A grid is Optuna's ``GridSampler``: every point once,
whatever the number of workers.

Nothing here imports TensorFlow: a worker only drives DVC.
"""
from __future__ import annotations

import datetime
import functools
import json
import logging
import os
import re
import secrets
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import optuna
import pydantic
import sqlalchemy.exc
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from distillation.experiments.queue import run_dvc, set_arguments
from distillation.config.grids import grid_product
from distillation.config.identity import PAIRING_KEYS, SOURCE_KEY
from distillation.config.params import Params, ParamsError, read_yaml

DEFAULT_STORAGE = "sqlite:///sweeps.db"  # the embedded default: a file beside params.yaml, git-ignored
HEARTBEAT_SECONDS = 60
DATABASE_WAIT_SECONDS = 300  # how long a worker waits for a study database that went away (--database-wait)
RECONNECT_SECONDS = 5
CONNECT_TIMEOUT_SECONDS = 10  # one attempt to reach PostgreSQL
STATEMENT_TIMEOUT_SECONDS = 60  # a query that hangs (a half-open connection) fails instead, and is retried
GRACE_HEARTBEATS = 3  # a trial is stale after this many heartbeats missed, at the least (grace_seconds)
CREATION_TOKEN = "creation_token"  # a trial's system attr: which create_new_trial call made it
MAX_RETRIES = 3
POLL_SECONDS = 10.0
OBJECTIVE = ("metrics/student.json", "val_accuracy")
LOG_DIRECTORY = Path(".dvc/tmp/sweeps")  # each trial's `dvc exp run` output

Scalar = bool | int | float | str


class Range(pydantic.BaseModel):
    """A range for a searcher (TPE, random): ``{low: 1, high: 20, log: true}``; ``step`` for a lattice."""

    model_config = pydantic.ConfigDict(extra="forbid")
    low: float
    high: float
    log: bool = False
    step: float | None = None
    integer: bool = False

    @pydantic.model_validator(mode="after")
    def _ordered(self) -> "Range":
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        if self.log and self.low <= 0:
            raise ValueError("log needs low > 0")
        return self


class SearchSpace(pydantic.BaseModel):
    """A sweep file: which sampler, how many trials (searchers only), and the params to vary."""

    model_config = pydantic.ConfigDict(extra="forbid")
    sampler: Literal["grid", "tpe", "random"] = "grid"
    trials: int | None = pydantic.Field(default=None, ge=1)
    seed: int | None = None
    space: dict[str, list[Scalar] | Range]

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> "SearchSpace":
        if not self.space:
            raise ValueError("space: empty; give e.g. distill.temp: [1, 2, 5, 10]")
        for key, values in self.space.items():
            if isinstance(values, list) and not values:
                raise ValueError(f"space.{key}: no values")
        if self.sampler == "grid":
            ranged = [key for key, values in self.space.items() if isinstance(values, Range)]
            if ranged:
                raise ValueError(f"space.{ranged[0]}: a range needs a searcher (sampler: tpe or random); a grid lists values")
            if self.trials is not None:
                raise ValueError("trials: a grid runs each of its points once; trials is for sampler: tpe or random")
        elif self.trials is None:
            raise ValueError(f"trials: sampler {self.sampler} needs the number of trials to run")
        return self

    def grid(self) -> dict[str, list[Scalar]]:
        return {key: values for key, values in self.space.items() if isinstance(values, list)}

    def points(self) -> list[dict[str, Scalar]]:
        """Every point of a grid, in the file's order (a searcher's corners and lists, for checking)."""
        return grid_product({key: values if isinstance(values, list) else [values.low, values.high] for key, values in self.space.items()})

    def size(self) -> int:
        return len(self.points()) if self.sampler == "grid" else self.trials or 0

    def canonical(self) -> str:
        """The search space as one string, stored with the study: a study has exactly one."""
        return json.dumps(self.model_dump(mode="json", exclude={"seed"}), sort_keys=True)


def _where(location: tuple) -> str:
    # pydantic names a union member it tried (list[...], Range) in the location: drop those
    return ".".join(str(part) for part in location if not re.match(r"^(list\[|Range$|function-)", str(part)))


def load_search_space(path: str | Path, params: Params) -> SearchSpace:
    """The sweep file at ``path``, every key and every point checked against the params rules."""
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping with 'space' (and 'sampler', 'trials')")
    unknown = sorted(set(raw) - set(SearchSpace.model_fields))
    if unknown:
        raise ValueError(f"{path}: unknown key '{unknown[0]}' ({', '.join(SearchSpace.model_fields)})")
    try:
        space = SearchSpace.model_validate(raw)
    except pydantic.ValidationError as error:
        first = error.errors()[0]
        where = _where(first["loc"])
        raise ValueError(f"{path}: {where + ': ' if where else ''}{first['msg'].removeprefix('Value error, ')}") from None
    known = params.flat()
    for key in space.space:
        if key not in known:
            raise ValueError(f"{path}: space.{key}: not a params.yaml key")
        if key in (*PAIRING_KEYS, SOURCE_KEY):
            raise ValueError(f"{path}: space.{key}: a sweep searches settings, not {key}")
    for point in space.points():
        try:  # every point as the run will see its params file (TensorFlow-free)
            params.with_overrides(point)
        except ParamsError as error:
            raise ValueError(f"{path}: {error}") from None
    return space


STORAGE_VARIABLE = "SWEEP_STORAGE"  # how `make sweep` hands the storage URL to a worker, off the command line


def database_url(storage: str) -> str:
    """The SQLAlchemy URL for a storage as users write it: ``postgresql://`` goes through psycopg 3."""
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", storage)


# Query keys whose value is a secret (libpq's and SQLAlchemy's, and the usual spellings).
SECRET_QUERY_KEYS = ("password", "passwd", "pwd", "pass", "sslpassword", "secret", "token", "access_token", "api_key", "apikey", "key")


def _credentials(storage: str) -> tuple[str, str | None, str, str]:
    """``storage`` as (before the password, the password or None, after it up to the query, the query
    with its ``?``): the user-info ends at the authority's last ``@``, so a password holding ``@`` is one."""
    scheme, separator, rest = storage.partition("://")
    address, mark, query = rest.partition("?")
    user_info, at, host = address.rpartition("@")
    if not separator or not at or ":" not in user_info:
        return storage.removesuffix(mark + query), None, "", mark + query
    user, password = user_info.split(":", 1)
    return f"{scheme}://{user}:", password, f"@{host}", mark + query


SECRET_QUERY_VALUE = rf"(?i)(^|[?&;])((?:{'|'.join(SECRET_QUERY_KEYS)})=)([^&;#]*)"


def shown(storage: str) -> str:
    """``storage`` as the user gave it, every credential hidden: the password in its user-info and
    the value of any password-like query key (``?password=…``). Every message, log line and echo
    that names a storage goes through this."""
    before, password, after, query = _credentials(storage)
    return before + ("***" if password is not None else "") + after + re.sub(SECRET_QUERY_VALUE, r"\1\2***", query)


def hidden(text: str, storage: str) -> str:
    """``text`` (a driver's message about ``storage``) with every piece of the storage's credentials
    replaced by ``***``: a driver that split a password holding ``@`` elsewhere than :func:`shown`
    names part of it as the host."""
    _, password, _, query = _credentials(storage)
    secrets = {value for _, _, value in re.findall(SECRET_QUERY_VALUE, query) if value}
    if password:
        secrets |= {password, *(piece for piece in password.split("@") if len(piece) > 2)}
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


class StorageUnreachable(ValueError):
    """The study's database stayed away longer than the worker waits for it."""


def unreachable_reason(error: BaseException) -> str | None:
    """One line of why the database could not be reached, if that is what ``error`` is; else None."""
    cause = error.__cause__ if isinstance(error, optuna.exceptions.StorageInternalError) else error
    if isinstance(cause, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)):
        return str(getattr(cause, "orig", None) or cause).strip().splitlines()[0]
    return None


def grace_seconds(heartbeat_seconds: float, wait_seconds: float) -> float:
    """How long a running trial may go without a heartbeat before another worker fails and retries it.

    Longer than any wait a worker sits out: a worker that lost the database waits up to
    ``wait_seconds`` (its heartbeats missing since up to one interval before the loss, each attempt
    up to the connect timeout); it either reconnects and beats again within the grace, or abandons
    its trial (its experiment killed, the worker gone) before the grace ends. So no trial is failed
    while its worker may still finish it: nothing is trained twice, and no worker is told its
    running trial failed. The price: a worker that dies outright is retried after this long
    (with the defaults, 430 s instead of 180 s). Workers of one study should share
    ``--heartbeat`` and ``--database-wait`` (the defaults do)."""
    return max(GRACE_HEARTBEATS * heartbeat_seconds, wait_seconds + 2 * heartbeat_seconds + CONNECT_TIMEOUT_SECONDS)


class PatientStorage(RDBStorage):
    """Optuna's RDB storage, waiting out a database that restarts or drops off the network.

    Every call that finds the server gone is retried every few seconds, for up to ``wait_seconds``
    in all (one warning line when the wait starts); stale connections are replaced on the way
    (``pool_pre_ping``). Past the wait, :class:`StorageUnreachable`: the worker exits with one
    line, and its trial, still *running* in the database, is failed and retried by the next worker
    once its heartbeats are missed; a retried trial whose experiment had finished is recorded, not
    run again (:func:`make_objective`).
    """

    def __init__(self, url: str, shown_url: str, wait_seconds: float, **keywords: Any):
        self.shown_url, self.wait_seconds = shown_url, wait_seconds
        self.outage_since: float | None = None  # when the server went away, as this worker saw it
        self._gave_up = threading.Lock()  # held by the first thread that gives the database up: it alone reports
        super().__init__(url, **keywords)

    def record_heartbeat(self, trial_id: int) -> None:
        try:
            _patient_record_heartbeat(self, trial_id)
        except StorageUnreachable as error:
            # Optuna's heartbeat thread, while the trial trains: the wait is over, and the grace
            # (grace_seconds) ends soon after. The worker abandons the trial now, before another
            # worker fails and retries it: it exits, and its experiment (a child that dies with
            # it) stops. Exiting from this thread is the one way to stop the training under way.
            # Where the worker's own call gave up first, that call reports it and the worker exits.
            if self.give_up():
                print(f"error: {error}; abandoning trial {trial_id}: its experiment is stopped", file=sys.stderr, flush=True)
                os._exit(1)

    def give_up(self) -> bool:
        """Whether this thread is the first to give the database up (and so the one to say so)."""
        return self._gave_up.acquire(blocking=False)

    def _create_new_trial(self, study_id: int, template_trial: optuna.trial.FrozenTrial | None = None) -> optuna.trial.FrozenTrial:
        """Optuna's (what ``create_new_trial`` and ``study.ask`` call), made safe to retry: a new trial
        carries a token, and a retry after a lost connection first looks for the trial its first
        attempt may have made (the insert committed, the answer lost), so one ask never makes two trials."""
        if template_trial is not None:
            return _patient_create_new_trial(self, study_id, template_trial)
        token = secrets.token_hex(8)
        template = optuna.trial.FrozenTrial(
            number=-1, state=TrialState.RUNNING, value=None, datetime_start=datetime.datetime.now(), datetime_complete=None,
            params={}, distributions={}, user_attrs={}, system_attrs={CREATION_TOKEN: token}, intermediate_values={}, trial_id=-1)
        try:
            return RDBStorage._create_new_trial(self, study_id, template)
        except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError) as error:
            if unreachable_reason(error) is None:
                raise
        for trial in self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):  # patient: waits for the database
            if trial.system_attrs.get(CREATION_TOKEN) == token:
                return trial
        return _patient_create_new_trial(self, study_id, template)

    def _silent_trial_ids(self, study_id: int) -> list[int]:
        """Running trials with no heartbeat at all, started longer than the grace ago: their worker
        died between creating the trial and its first heartbeat (Optuna's own check skips them)."""
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session

        # datetime_start is the creating worker's local clock (Optuna's), so this worker's clock
        # judges it: hosts of one study are assumed to keep the same time zone and roughly the same time.
        now = datetime.datetime.now()
        with _create_scoped_session(self.scoped_session) as session:
            silent = (session.query(models.TrialModel)
                      .filter(models.TrialModel.study_id == study_id, models.TrialModel.state == TrialState.RUNNING,
                              ~models.TrialModel.heartbeats.any()).all())
            return [trial.trial_id for trial in silent
                    if trial.datetime_start is not None and (now - trial.datetime_start).total_seconds() > self.grace_period]

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        return _patient_stale(self, study_id) + _patient_silent(self, study_id)


def _patient(method: Callable[..., Any], heartbeat: bool = False) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: PatientStorage, *arguments: Any, **keywords: Any) -> Any:
        while True:
            try:
                result = method(self, *arguments, **keywords)
                self.outage_since = None
                return result
            except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError) as error:
                reason = unreachable_reason(error)
                if reason is None:
                    raise
                reason = hidden(reason, str(getattr(self, "url", "")))
                now = time.monotonic()
                if self.outage_since is None:
                    self.outage_since = now
                    print(f"warning: {self.shown_url}: the study storage is unreachable ({reason}); waiting up to "
                          f"{self.wait_seconds:g} s for it", file=sys.stderr, flush=True)
                if now >= self.outage_since + self.wait_seconds:
                    if not heartbeat:
                        self.give_up()  # the worker's own call reports it; the heartbeat thread then stays quiet
                    raise StorageUnreachable(
                        f"{self.shown_url}: the study storage stayed unreachable for {self.wait_seconds:g} s ({reason}); "
                        "this worker's running trial is retried by the next worker after its heartbeats stop: "
                        "start `make sweep` again once the database is back") from None
                time.sleep(min(RECONNECT_SECONDS, self.outage_since + self.wait_seconds - now))
    return call


_patient_record_heartbeat = _patient(RDBStorage.record_heartbeat, heartbeat=True)
_patient_create_new_trial = _patient(RDBStorage._create_new_trial)
_patient_stale = _patient(RDBStorage._get_stale_trial_ids)
_patient_silent = _patient(PatientStorage._silent_trial_ids)
# Retried as they are: reads, and writes that set a value (the same value twice is the same state).
# create_new_trial, the one write that adds a row, retries through its own check (above).
for _name in ("create_new_study", "delete_study", "set_study_user_attr", "set_study_system_attr", "get_study_id_from_name",
              "get_study_name_from_id", "get_study_directions", "get_study_user_attrs", "get_study_system_attrs",
              "get_all_studies", "set_trial_param", "get_trial_id_from_study_id_trial_number",
              "get_trial_number_from_id", "get_trial_param", "set_trial_state_values", "set_trial_intermediate_value",
              "set_trial_user_attr", "set_trial_system_attr", "get_trial", "get_all_trials", "get_n_trials", "get_best_trial"):
    setattr(PatientStorage, _name, _patient(getattr(RDBStorage, _name)))


def open_storage(storage: str, heartbeat_seconds: int = HEARTBEAT_SECONDS,
                 wait_seconds: float = DATABASE_WAIT_SECONDS) -> RDBStorage:
    """Optuna's RDB storage at ``storage`` with heartbeats and retries, waiting up to ``wait_seconds``
    for a database that goes away later; one line if it cannot be reached now."""
    url = database_url(storage)
    if not re.match(r"^(sqlite|postgresql\+psycopg)://", url):
        raise ValueError(f"{shown(storage)}: not a study storage (sqlite:///file.db or postgresql://user@host:port/db)")
    # TCP keepalives notice a peer gone without a word (a partition) within about a minute, and a
    # statement timeout ends a query that hangs anyway: either then counts as the database away.
    engine = {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_SECONDS, "keepalives": 1, "keepalives_idle": 30,
                               "keepalives_interval": 10, "keepalives_count": 3,
                               "options": f"-c statement_timeout={STATEMENT_TIMEOUT_SECONDS * 1000}"},
              "pool_pre_ping": True} if url.startswith("postgresql") else {}
    for attempt in range(3):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna's API since 2.8
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return PatientStorage(url, shown(storage), wait_seconds, engine_kwargs=engine,
                                      heartbeat_interval=heartbeat_seconds, grace_period=grace_seconds(heartbeat_seconds, wait_seconds),
                                      heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES))
        except Exception as error:  # SQLAlchemy's errors carry the driver's; one line of it is the news
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
            racing = isinstance(error, sqlalchemy.exc.IntegrityError) or "already exists" in reason or "locked" in reason
            if racing and attempt < 2:
                # Workers started together on a new database race to create Optuna's tables: the
                # loser finds them made and opens them next time.
                time.sleep(1 + attempt)
                continue
            raise ValueError(f"{shown(storage)}: cannot open the study storage ({hidden(reason, storage)})") from None
    raise AssertionError("unreachable")


def sampler_for(space: SearchSpace) -> optuna.samplers.BaseSampler:
    if space.sampler == "grid":
        return optuna.samplers.GridSampler(space.grid(), seed=space.seed)
    if space.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=space.seed)
    return optuna.samplers.RandomSampler(seed=space.seed)


def check_study_name(name: str) -> str:
    """``name`` if it can name DVC experiments (``<study>-<trial>``); else one line saying why."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise ValueError(f"study name '{name}': letters, digits, '.', '_' and '-' only (it names DVC experiments)")
    return name


def open_study(name: str, storage: RDBStorage, space: SearchSpace, shown_storage: str) -> optuna.Study:
    """The study ``name`` (created on first use); refused if it was made with another search space."""
    study = optuna.create_study(study_name=check_study_name(name), storage=storage, sampler=sampler_for(space),
                                direction="maximize", load_if_exists=True)
    recorded = study.user_attrs.get("search_space")
    if recorded is None:
        study.set_user_attr("search_space", space.canonical())
        study.set_user_attr("objective", "/".join(OBJECTIVE))
    elif recorded != space.canonical():
        raise ValueError(f"study '{name}' in {shown_storage} was made with another search space; "
                         f"name a new study (STUDY=…) or restore its file")
    return study


def suggest(trial: optuna.Trial, space: SearchSpace) -> dict[str, Scalar]:
    """The trial's params, as ``{dotted.key: value}``."""
    point: dict[str, Scalar] = {}
    for key, values in space.space.items():
        if isinstance(values, list):
            point[key] = trial.suggest_categorical(key, values)
        elif values.integer:
            point[key] = trial.suggest_int(key, int(values.low), int(values.high), step=int(values.step or 1), log=values.log)
        else:
            point[key] = trial.suggest_float(key, values.low, values.high, step=values.step, log=values.log)
    return point


def experiment_name(study: optuna.Study, trial: optuna.Trial | optuna.trial.FrozenTrial) -> str:
    return f"{study.study_name}-{trial.number}"


def run_experiment(name: str, point: dict[str, Scalar], log_directory: Path = LOG_DIRECTORY) -> Path:
    """``dvc exp run --temp --name name -S …``: in a temporary copy, so the workspace stays as it is
    and a run killed midway leaves no experiment; it dies with the worker. Return its log."""
    log = log_directory / f"{name}.log"
    try:
        run_dvc("exp", "run", "--temp", "--name", name, *set_arguments(point), log=log, die_with_parent=True)
    except ValueError as error:
        raise ValueError(f"experiment {name}: {error}") from None
    return log


def experiment_metrics(name: str) -> dict[str, Any]:
    """``{"val_accuracy": …, "test_accuracy": …}`` of the student of experiment ``name``."""
    import dvc.api  # slow to import; only a worker that has run a trial needs it

    for row in dvc.api.exp_show():
        if row.get("Experiment") == name:
            file, _ = OBJECTIVE
            return {key: row.get(f"{file}:{key}") for key in ("val_accuracy", "test_accuracy")}
    raise ValueError(f"experiment {name}: ran, but `dvc exp show` does not list it")


def run_and_read(name: str, point: dict[str, Scalar]) -> dict[str, Any]:
    """Run the trial's experiment; return its student's val and test accuracy."""
    run_experiment(name, point)
    return experiment_metrics(name)


def share(names: list[str], git_remote: str | None) -> None:
    """Push experiments and the run-cache, so every clone's ``make report`` sees them."""
    if not git_remote:
        return
    run_dvc("exp", "push", git_remote, *names)
    try:
        run_dvc("push", "--run-cache")
    except ValueError:
        # WebDAV remotes, for one, refuse DVC's run-cache files: say so, do not fail the trial.
        print("warning: the DVC remote did not take the run-cache; other hosts will re-run the stages "
              "this host ran with new params (an SSH, S3 or shared-folder remote keeps it)", file=sys.stderr)


def _grid_id(trial: optuna.trial.FrozenTrial) -> int | None:
    return trial.system_attrs.get("grid_id")


def next_step(study: optuna.Study, space: SearchSpace) -> Literal["run", "wait", "done"]:
    """Whether a worker should start a trial now, wait for others' running trials, or stop."""
    trials = study.get_trials(deepcopy=False)
    waiting = [trial for trial in trials if trial.state == TrialState.WAITING]
    running = [trial for trial in trials if trial.state == TrialState.RUNNING]
    if waiting:  # retries of trials whose worker died
        return "run"
    if space.sampler == "grid":
        taken = {_grid_id(trial) for trial in trials if trial.state != TrialState.WAITING} - {None}
        if len(taken) < space.size():
            return "run"
        return "wait" if running else "done"
    complete = sum(trial.state == TrialState.COMPLETE for trial in trials)
    if complete + len(running) < space.size():
        return "run"
    return "wait" if running and complete < space.size() else "done"


def finished_experiment(name: str, git_remote: str | None) -> dict[str, Any] | None:
    """The student's metrics of experiment ``name`` if it finished, here or pushed to ``git_remote``; else None."""
    try:
        return experiment_metrics(name)
    except ValueError:
        pass
    if git_remote:
        try:
            run_dvc("exp", "pull", git_remote, name)
            return experiment_metrics(name)
        except ValueError:
            pass
    return None


def make_objective(study: optuna.Study, space: SearchSpace, git_remote: str | None,
                   run: Callable[[str, dict[str, Scalar]], dict[str, Any]] = run_and_read,
                   finished: Callable[[str, str | None], dict[str, Any] | None] = finished_experiment,
                   ) -> Callable[[optuna.Trial], float]:
    def objective(trial: optuna.Trial) -> float:
        point = suggest(trial, space)
        if space.sampler == "grid":
            # Two workers that asked at the same instant can be dealt the same last point: the later
            # trial steps aside (pruned), so each point runs once.
            trials = study.get_trials(deepcopy=False)
            [grid_id] = [_grid_id(other) for other in trials if other.number == trial.number]
            for other in trials:
                if other.number < trial.number and other.state in (TrialState.RUNNING, TrialState.COMPLETE) and _grid_id(other) == grid_id:
                    raise optuna.TrialPruned(f"grid point taken by trial {other.number}")
        else:
            # Likewise two workers may both start what should be the last trial: the later one steps aside.
            earlier = [other for other in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.COMPLETE))
                       if other.number < trial.number]
            if len(earlier) >= space.size():
                raise optuna.TrialPruned(f"the study has its {space.size()} trials")
        # A retry carries the failed trial's attributes. If that trial's experiment finished (its
        # worker died, or lost the database, between training and recording), it is recorded now
        # under its own name: not run again, nor pushed under a second name.
        earlier = trial.user_attrs.get("experiment")
        metrics = finished(earlier, git_remote) if earlier else None
        name = earlier if metrics is not None else experiment_name(study, trial)
        trial.set_user_attr("experiment", name)
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        if metrics is None:
            metrics = run(name, point)
        if metrics["val_accuracy"] is None:
            raise ValueError(f"experiment {name}: no student val_accuracy in {OBJECTIVE[0]}")
        trial.set_user_attr("test_accuracy", metrics["test_accuracy"])  # recorded, never the objective
        share([name], git_remote)  # pushed before the trial counts as complete
        return float(metrics["val_accuracy"])

    return objective


def run_worker(study: optuna.Study, space: SearchSpace, git_remote: str | None, poll_seconds: float = POLL_SECONDS,
               run: Callable[[str, dict[str, Scalar]], dict[str, Any]] = run_and_read,
               finished: Callable[[str, str | None], dict[str, Any] | None] = finished_experiment) -> list[str]:
    """Take trials from ``study`` until it is done; return the experiments this worker ran."""
    objective = make_objective(study, space, git_remote, run, finished)
    ran: list[str] = []
    while True:
        optuna.storages.fail_stale_trials(study)  # a dead worker's trial: failed, and queued again
        step = next_step(study, space)
        if step == "done":
            return ran
        if step == "wait":
            time.sleep(poll_seconds)
            continue

        def record(_: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            if trial.state == TrialState.COMPLETE:
                ran.append(trial.user_attrs["experiment"])
                print(f"trial {trial.number}: {trial.user_attrs['experiment']} val {trial.value:.4f} "
                      f"({', '.join(f'{key}={value}' for key, value in trial.params.items())})", flush=True)

        # A failing run is recorded FAIL and its one-line error stops this worker; other workers go on.
        try:
            study.optimize(objective, n_trials=1, callbacks=[record], catch=())
        except Exception as error:
            # Optuna may mask a lost database with an error of its own raised while handling it.
            cause: BaseException | None = error
            while cause is not None and not isinstance(cause, StorageUnreachable):
                cause = cause.__context__
            if cause is not None and cause is not error:
                raise cause from None
            raise


def quiet_optuna() -> None:
    """Optuna logs every trial at INFO; a worker prints its own one line per trial."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Heartbeats are experimental in Optuna's API; their warning would greet every worker.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    logging.getLogger("alembic").setLevel(logging.WARNING)
