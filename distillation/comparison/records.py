"""A comparison's record (``reports/comparison-<source>.json``): what it chose and every run it used.

The reports are made from records only, so ``make report`` shows exactly the comparison's runs
whatever other experiments the repository holds.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from distillation.atomic import atomic_output
from distillation.comparison.config import ComparisonConfig, grid_points
from distillation.comparison.plan import BASELINE, choice_label, choose_baseline, choose_settings, on_grid
from distillation.experiments.table import source_label


RECORD_FIELDS = (
    "experiment", "rev", "identity", "method", "setting", "recipe", "views", "baseline_setting", "replicate", "teacher_replicate", "teacher", "teacher_val",
    "baseline", "baseline_val", "student", "student_val", "student_epochs", "student_best_epoch",
    "student_train_images_per_second", "student_train_seconds", "epoch_cap", "teacher_on_views", "machine",
    "teachers", "ensemble", "ensemble_val",
    # Which test images the student and the baseline got right (distillation.models.per_image);
    # none in records made before runs kept them: their intervals are about these test images only.
    "student_correct", "baseline_correct",
)


class Choice(BaseModel):
    """What a comparison chose for one method: its setting, the recipe knobs its grid searched, the overrides."""

    model_config = ConfigDict(frozen=True)
    setting: str
    recipe: str = ""
    overrides: dict[str, Any] = {}
    grid_points: int | None = None


class BaselineChoice(BaseModel):
    """The MLP alone's recipe, where the config searched it."""

    model_config = ConfigDict(frozen=True)
    setting: str = ""
    overrides: dict[str, Any] = {}
    grid_points: int | None = None


class Record(BaseModel):
    """A comparison's record: what it chose and every run it used (``runs``: one row each, with its figures)."""

    model_config = ConfigDict(frozen=True)
    source: str
    source_label: str
    params: dict[str, Any] = {}  # what every run of this comparison set, beside data.source
    config: ComparisonConfig
    chosen: dict[str, Choice] = {}
    baseline: BaselineChoice | None = None
    complete: bool = True  # false: the runs finished so far of a comparison under way
    sittings: list[dict[str, Any]] = []  # each `make compare` that ran it: machine, start, hours, runs
    runs: list[dict[str, Any]]
    path: str | None = Field(None, exclude=True)  # where it was read from
    # The raw p-values of the other records of its study (stats.with_study_families): one
    # Benjamini–Hochberg family per study, not per record.
    study_p_values: tuple[float, ...] = Field((), exclude=True)

    @property
    def name(self) -> str:
        """The config's name ("" for none)."""
        return self.config.name

    def runs_of(self, phase: str) -> pd.DataFrame:
        """The ``selection`` or ``reported`` runs as a table."""
        return pd.DataFrame([run for run in self.runs if run.get("phase", "reported") == phase])


def comparison_record(config: ComparisonConfig, source: str, chosen: dict[str, dict[str, Any]],
                      selection: list[dict[str, Any]], reported: list[dict[str, Any]],
                      fixed: dict[str, Any] | None = None, complete: bool = True,
                      sittings: list[dict[str, Any]] | None = None) -> Record:
    """What the comparison chose and every run it used, with their figures.

    ``chosen`` maps each method (and ``baseline``, where the config searched its recipe) to its
    ``setting``, ``recipe`` and ``point``. An incomplete record (``complete`` false) holds the
    runs finished so far, so an interrupted comparison resumes from it on any machine; reports
    leave it out. ``sittings``: each ``make compare`` that ran it (its machine, start, wall hours
    up to its last batch, runs it finished), so a study that took several sittings has its time.
    """
    def fields(run: dict[str, Any], phase: str) -> dict[str, Any]:
        row = {field: _plain(run.get(field)) for field in RECORD_FIELDS}
        return {"phase": phase, **row}

    return Record(
        source=source,
        source_label=source_label(source),
        params=fixed or {},
        config=config,
        chosen={method: Choice(setting=choice["setting"], recipe=choice.get("recipe", ""), overrides=choice["point"],
                               grid_points=len(grid_points(method, config.grids[method])))
                for method, choice in chosen.items() if method != BASELINE},
        baseline=(BaselineChoice(setting=chosen[BASELINE]["setting"], overrides=chosen[BASELINE]["point"],
                                 grid_points=len(config.baseline_points())) if BASELINE in chosen else None),
        complete=complete,
        sittings=sittings or [],
        runs=[fields(run, "selection") for run in selection] + [fields(run, "reported") for run in reported],
    )


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else float(value)
    return value


def record_stem(source: str, fixed: dict[str, Any] | None = None, name: str = "") -> str:
    """``<data>``, the config's ``name`` if any, and for each param the comparison fixed ``-<key>=<value>``."""
    return (Path(source_label(source)).stem + (f"-{name}" if name else "")
            + "".join(f"-{key}={value}" for key, value in sorted((fixed or {}).items())))


def record_path(directory: Path, source: str, fixed: dict[str, Any] | None = None, name: str = "") -> Path:
    return Path(directory) / f"comparison-{record_stem(source, fixed, name)}.json"


def record_name(record: Record) -> str:
    """The stem of a record's files (its chart, its path)."""
    return record_stem(record.source, record.params, record.name)


def save_record(record: Record, directory: Path) -> Path:
    path = record_path(directory, record.source, record.params, record.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as temporary:
        temporary.write_text(json.dumps(record.model_dump(mode="json"), indent=1, sort_keys=True) + "\n")
    return path


def load_records(directory: Path) -> list[Record]:
    """Every complete comparison record in ``directory``; each checked to reproduce its own choice."""
    records = []
    for path in sorted(Path(directory).glob("comparison-*.json")):
        record = _read_record(path)
        if not record.complete:
            continue  # a comparison still under way: `make compare` resumes it
        chosen = {method: choice_label(choice.setting, choice.recipe) for method, choice in record.chosen.items()}
        selection = record.runs_of("selection")
        again = choose_settings(selection)
        if again != chosen:
            raise ValueError(f"{path}: its selection runs choose {again}, the record says {chosen}")
        if record.baseline is not None:
            baseline = choose_baseline(selection, record.config.baseline_points())
            if not on_grid(baseline, [record.baseline.overrides]):
                raise ValueError(f"{path}: its selection runs choose the baseline {baseline}, the record says "
                                 f"{record.baseline.setting}")
        records.append(record)
    return records


def _read_record(path: Path) -> Record | None:
    """The record at ``path`` (None where there is none); one line naming it if it is not one."""
    if not Path(path).is_file():
        return None
    try:
        content = json.loads(Path(path).read_text())
        if not isinstance(content, dict):
            raise ValueError("not a mapping")
        return Record.model_validate({**content, "path": str(path)})
    except ValueError as error:  # pydantic's ValidationError is one
        reason = error.errors()[0] if isinstance(error, ValidationError) else None
        shown = f"{'.'.join(map(str, reason['loc']))}: {reason['msg']}" if reason else str(error)
        raise ValueError(f"{path}: not a comparison record ({shown})") from None


def load_sittings(path: Path) -> list[dict[str, Any]]:
    """The sittings of the incomplete record at ``path`` (none where there is no comparison under way)."""
    record = _read_record(path)
    return [] if record is None or record.complete else list(record.sittings)


def record_complete(path: Path) -> bool:
    """Whether the record at ``path`` exists and holds a finished comparison."""
    record = _read_record(path)
    return record is not None and record.complete


def load_progress(path: Path) -> pd.DataFrame:
    """The runs finished so far of an interrupted comparison (its incomplete record at ``path``), as
    a table :func:`find_run` reads; empty where there is none. The record may be of an earlier
    config (a grid since widened): a run is found by its identity, replicate and teacher, so only
    the runs that the comparison still plans are taken. A complete record is no comparison under
    way: its runs are not taken."""
    return _record_runs(path, complete_too=False)


def load_shared_runs(paths: list[Path]) -> pd.DataFrame:
    """The runs of a study's other records (``paths``: complete or under way, absent ones skipped),
    as a table :func:`find_run` reads. A run is found by its identity, replicate and teacher, so
    only a run of the same configuration is taken: one whose method reads none of the params the
    records differ in — hard_labels and the MLP alone beside ``teacher.ensemble`` — run once for
    every record of the study instead of once each."""
    tables = [table for path in paths if not (table := _record_runs(path, complete_too=True)).empty]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def _record_runs(path: Path, complete_too: bool) -> pd.DataFrame:
    record = _read_record(path)
    if record is None or (record.complete and not complete_too):
        return pd.DataFrame()
    return pd.DataFrame(record.runs).drop(columns=["phase"], errors="ignore")
