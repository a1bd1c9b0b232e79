"""Studies made of several records: the K curve of stored views, ensembles of teachers, the recipe's levers."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from distillation.comparison.plan import choice_label, knobs
from distillation.comparison.stats import (
    CONFIDENCE, bh_adjusted, gap_share_interval, paired_difference, study_family, study_key, summarise, verdict, with_study_families,
)
from distillation.config.identity import ENSEMBLE_KEY, EPOCHS_KEY, VIEWS_KEY, reads_teacher
from distillation.data.views import views_seen
from distillation.methods import CONTROLS
from distillation.comparison.records import Record, load_records


def views_curve(records: list[Record]) -> pd.DataFrame:
    """Per (source, views, method): the paired val and test gains over the baseline with 95 % intervals.

    From the records whose comparison fixed ``augment.views`` (a K curve: one record per K).
    ``series`` names what else a record fixed (``baseline.epochs=120``; empty for none): records
    that differ in it are separate curves, never two points of one.
    ``closure`` is the share of the teacher–baseline test gap that the method's mean closes, with
    Fieller's interval (:func:`~distillation.comparison.stats.gap_share_interval`). ``augmented_gain`` (with
    ``augmented_low``, ``augmented_high``) is a method's paired test gain over ``hard_labels``, the MLP on
    the same views with labels only: what the teacher adds beyond the augmentation.
    """
    rows = []
    for record in records:
        if VIEWS_KEY not in record.params:
            continue
        runs = record.runs_of("reported")
        baseline = runs.drop_duplicates("replicate").assign(teacher_replicate=np.nan)
        # Each teacher once: a teacherless run (teacher_replicate NaN) repeats the default teacher.
        teachers = runs[runs["teacher_replicate"].notna()].drop_duplicates("teacher_replicate")
        on_views = pd.to_numeric(teachers.get("teacher_on_views", pd.Series(dtype=float)), errors="coerce").mean()
        # The record's own comparisons hold each method's test gain over hard_labels (the augmented MLP).
        comparisons = summarise(record).comparisons
        over_hard_labels = comparisons[(comparisons["against"] == "hard_labels") & ~comparisons["control"]]
        for method in record.chosen:
            own = runs[runs["method"] == method]
            row = {"source": record.source_label, "series": series_label(record.params),
                   "views": record.params[VIEWS_KEY], "method": method,
                   "setting": record.chosen[method].setting, "control": method in CONTROLS,
                   "teacher_on_views": float(on_views),
                   "test_mean": own["student"].mean()}
            for split, student, reference in (("val", "student_val", "baseline_val"), ("test", "student", "baseline")):
                test = paired_difference(own.assign(accuracy=own[student]), baseline.assign(accuracy=baseline[reference]))
                row.update({f"{split}_gain": test["mean"], f"{split}_low": test["low"], f"{split}_high": test["high"]})
            share = gap_share_interval(own.assign(accuracy=own["student"]), baseline.assign(accuracy=baseline["baseline"]),
                                       teachers["teacher"].to_numpy())
            row.update(closure=share["share"], closure_low=share["low"], closure_high=share["high"],
                       augmented_gain=math.nan, augmented_low=math.nan, augmented_high=math.nan, augmented_verdict="")
            augmented = over_hard_labels[over_hard_labels["method"] == method]
            if not augmented.empty:
                row.update(augmented_gain=augmented["mean"].iloc[0], augmented_low=augmented["low"].iloc[0],
                           augmented_high=augmented["high"].iloc[0], augmented_verdict=augmented["verdict"].iloc[0])
            rows.append(row)
    return pd.DataFrame(rows).sort_values(["source", "series", "method", "views"]).reset_index(drop=True) if rows else pd.DataFrame()


def series_label(fixed: dict[str, Any]) -> str:
    """What a K-curve record fixed beside ``augment.views``, as ``key=value, …`` (empty for nothing)."""
    return ", ".join(f"{key}={value}" for key, value in sorted(fixed.items()) if key != VIEWS_KEY)


def to_teachers_mean(per_seed: pd.Series, teachers: np.ndarray, column: str) -> dict[str, float]:
    """The seeds' mean student against the mean of ``teachers``, both estimates: Welch's interval
    (``scipy.stats.ttest_ind``, unequal variances) with the students' seed spread over R and the
    teachers' own spread over T. The teachers are a sample of the recipe's teachers; taken as a
    known constant their mean would make the interval too narrow (docs/comparison.md, calibration)."""
    teachers = np.asarray(teachers, dtype=float)
    if len(per_seed) < 2 or len(teachers) < 2 or np.isnan(teachers).any():
        return {column: math.nan, f"{column}_low": math.nan, f"{column}_high": math.nan, f"{column}_p": math.nan}
    test = stats.ttest_ind(per_seed.to_numpy(), teachers, equal_var=False)
    interval = test.confidence_interval(CONFIDENCE)
    return {column: float(per_seed.mean() - teachers.mean()), f"{column}_low": float(interval.low),
            f"{column}_high": float(interval.high), f"{column}_p": float(test.pvalue)}


def _recorded_comparison(comparisons: pd.DataFrame, method: str, against: str, column: str) -> dict[str, Any]:
    """The record's own comparison of ``method`` with ``against``: its difference, interval and verdict (NaN for none)."""
    found = comparisons[(comparisons["method"] == method) & (comparisons["against"] == against)]
    if found.empty:
        return {column: math.nan, f"{column}_low": math.nan, f"{column}_high": math.nan, f"{column}_verdict": ""}
    first = found.iloc[0]
    return {column: first["mean"], f"{column}_low": first["low"], f"{column}_high": first["high"], f"{column}_verdict": first["verdict"]}


def ensemble_study(records: list[Record]) -> pd.DataFrame:
    """Per (source, config, teachers N, method that reads a teacher): how near the MLP came to its teachers.

    From the records whose comparison fixed ``teacher.ensemble`` (one record per N, like a K curve).
    With the MLP seed as the unit (each seed's runs averaged over its T teachers or ensembles):
    the student's test mean against the mean of the single teachers it is compared with (each
    ensemble's first member, so the same teachers in every record of the study) and, for N > 1,
    against the ensembles' own mean — Welch's interval (:func:`to_teachers_mean`): the teachers' mean
    is an estimate, its spread counted; and, for N > 1, the seed-paired difference to the same method taught by
    one teacher (the study's N = 1 record). ``hard_labels`` and the MLP alone come from each
    record's own comparisons; ``closure_teachers`` (``closure_ensembles``) is the share of the gap
    from the MLP alone to the teachers' (the ensembles') mean that the student's gain closes.
    """
    studies: dict[tuple, dict[int, dict[str, Any]]] = {}
    for record in records:
        fixed = record.params
        if ENSEMBLE_KEY not in fixed:
            continue
        others = tuple(sorted((key, str(value)) for key, value in fixed.items() if key != ENSEMBLE_KEY))
        key = (record.source_label, record.name, others)
        studies.setdefault(key, {})[int(fixed[ENSEMBLE_KEY])] = record
    rows = []
    for (source, name, _), by_size in studies.items():
        single = by_size.get(1)
        for size, record in sorted(by_size.items()):
            summary = summarise(record)
            runs = record.runs_of("reported")
            teachers_mean = float(np.mean(summary.teacher_tests))
            ensembles_mean = float(np.mean(summary.ensemble_tests)) if len(summary.ensemble_tests) else math.nan
            comparisons = summary.comparisons
            for method in record.chosen:
                if not reads_teacher(method):
                    continue
                own = runs[runs["method"] == method]
                per_seed = own.groupby("replicate")["student"].mean()
                row = {"source": source, "name": name, "teachers": size, "method": method,
                       "setting": choice_label(record.chosen[method].setting, record.chosen[method].recipe),
                       "runs": len(own), "replicates": len(per_seed), "test_mean": float(own["student"].mean()),
                       "teachers_mean": teachers_mean, "ensembles_mean": ensembles_mean}
                row.update(to_teachers_mean(per_seed, summary.teacher_tests, "to_teachers"))
                row.update(to_teachers_mean(per_seed, summary.ensemble_tests if len(summary.ensemble_tests) else np.array([math.nan]),
                                            "to_ensembles"))
                row.update(over_one=math.nan, over_one_low=math.nan, over_one_high=math.nan, over_one_p=math.nan)
                if single is not None and size > 1 and method in single.chosen:
                    alone = pd.DataFrame([run for run in single.runs if run["phase"] == "reported" and run["method"] == method])
                    test = paired_difference(own.assign(accuracy=own["student"]), alone.assign(accuracy=alone.student))
                    row.update(over_one=test["mean"], over_one_low=test["low"], over_one_high=test["high"], over_one_p=test["p"])
                for column, against in (("over_hard_labels", "hard_labels"), ("over_baseline", "baseline")):
                    row.update(_recorded_comparison(comparisons, method, against, column))
                # The share of the gap from the MLP alone to the teachers (or the ensembles) that the
                # student closes, with Fieller's interval (as summarise): the gap is an estimate too.
                baseline_mean = teachers_mean - summary.gap
                for column, references in (("closure_teachers", summary.teacher_tests), ("closure_ensembles", summary.ensemble_tests)):
                    share = gap_share_interval(summary.sides[method], summary.sides["baseline"], references)
                    row.update({column: share["share"], f"{column}_low": share["low"], f"{column}_high": share["high"]})
                row["baseline_mean"] = baseline_mean
                row["study"] = study_key(record)
                rows.append(row)
    table = pd.DataFrame(rows)
    for key, of_study in (table.groupby("study", sort=False) if not table.empty else []):
        # One Benjamini–Hochberg family per study: these tests with every comparison of its records.
        own = of_study[[f"{column}_p" for column in STUDY_TESTS]].to_numpy().ravel()
        adjusted = bh_adjusted(np.concatenate([own, study_family(records, key)]))
        verdicts = adjusted[:len(own)].reshape(len(of_study), len(STUDY_TESTS))
        for position, column in enumerate(STUDY_TESTS):
            table.loc[of_study.index, f"{column}_verdict"] = [
                verdict(mean, p) for mean, p in zip(of_study[column], verdicts[:, position])]
    return table


# The ensemble study's own tests, across its records (beside each record's comparisons).
STUDY_TESTS = ("to_teachers", "to_ensembles", "over_one")


def load_studies(directory: Path) -> list[Record]:
    """Every complete record in ``directory`` (:func:`~distillation.comparison.records.load_records`), each
    adjusted in its study's one family: what every report and rendered page is made from."""
    records = load_records(directory)
    return with_study_families(records, study_tests(records))


def study_tests(records: list[Record]) -> dict[tuple, list[float]]:
    """Per study (:func:`~distillation.comparison.stats.study_key`), the raw p-values of the tests it makes
    across its records: the records' comparisons are adjusted together with them."""
    table = ensemble_study(records)
    if table.empty:
        return {}
    return {key: [p for p in of_study[[f"{column}_p" for column in STUDY_TESTS]].to_numpy().ravel() if not math.isnan(p)]
            for key, of_study in table.groupby("study", sort=False)}


def recipe_levers(records: list[Record]) -> pd.DataFrame:
    """The selection runs of an ensemble study, a row per (teachers N, method, setting, recipe): how
    far each lever went (K stored views, epochs, the method's own knobs: T, mixup) on val, the
    figure the choice was made on, with test beside it as a description. ``views_shown_per_image``
    is K·E/(K + 1) over E epochs (the student's metrics
    give it per run); the baseline's recipes ride on these runs and are left out."""
    rows = []
    for record in records:
        fixed = record.params
        if ENSEMBLE_KEY not in fixed:
            continue
        selection = record.runs_of("selection")
        for column in ("setting", "recipe"):
            selection[column] = selection.get(column, pd.Series(index=selection.index, dtype=object)).fillna("")
        for (method, setting, recipe), runs in selection.groupby(["method", "setting", "recipe"]):
            if not reads_teacher(method) and int(fixed[ENSEMBLE_KEY]) > 1:
                continue  # the same runs as in the one-teacher record
            recipe_knobs = knobs(recipe)
            views, epochs = int(recipe_knobs.get(VIEWS_KEY, 0)), int(float(recipe_knobs.get(EPOCHS_KEY, runs["epoch_cap"].max())))
            rows.append({"source": record.source_label, "name": record.name,
                         "teachers": int(fixed[ENSEMBLE_KEY]) if reads_teacher(method) else None, "method": method,
                         "setting": setting, "views": views, "epochs": epochs, "views_shown_per_image": views_seen(views, epochs)["views_shown_per_image"],
                         "runs": len(runs), "val": runs["student_val"].mean(), "test": runs["student"].mean(),
                         "chosen": (setting, recipe) == (record.chosen[method].setting, record.chosen[method].recipe)})
    return pd.DataFrame(rows)


def lever_steps(levers: pd.DataFrame) -> pd.DataFrame:
    """Where each lever flattened: the val change of one step along a lever, the others held.

    From :func:`recipe_levers`, within each (study, method, teachers), whose ``base`` setting is
    the one with the most points: every step to the next larger epoch count at the same K and
    setting (``lever`` "epochs"), to the next larger K at the same epochs and setting ("views"),
    and from the base setting to each other one at the same K and epochs ("setting": T, mixup;
    ``to`` names the knobs that differ). ``setting`` is the setting a step was taken in. One
    selection run per point, so a step is as noisy as two runs (:func:`seed_spread`)."""
    keys = ["source", "name", "method", "teachers"]
    rows = []
    for key, group in levers.groupby(keys, dropna=False, sort=False):
        base = group["setting"].value_counts().index[0]
        base_knobs = knobs(base)

        def step(lever: str, start: Any, end: Any, setting: str, before: pd.Series, after: pd.Series) -> None:
            rows.append({**dict(zip(keys, key)), "setting": setting, "base": base, "lever": lever, "views": after["views"],
                         "epochs": after["epochs"], "from": start, "to": end, "val_change": after["val"] - before["val"]})

        for lever, held in (("epochs", "views"), ("views", "epochs")):
            for (setting, _), line in group.groupby(["setting", held]):
                line = line.sort_values(lever)
                for (_, before), (_, after) in zip(line.iloc[:-1].iterrows(), line.iloc[1:].iterrows()):
                    step(lever, int(before[lever]), int(after[lever]), setting, before, after)
        for _, other in group[group["setting"] != base].iterrows():
            same = group[(group["setting"] == base) & (group["views"] == other["views"]) & (group["epochs"] == other["epochs"])]
            if len(same):
                changed = ", ".join(f"{knob}={value}" for knob, value in sorted(knobs(other["setting"]).items())
                                    if base_knobs.get(knob) != value)
                step("setting", base, changed, base, same.iloc[0], other)
    return pd.DataFrame(rows, columns=[*keys, "setting", "base", "lever", "views", "epochs", "from", "to", "val_change"])


def seed_spread(records: list[Record]) -> pd.DataFrame:
    """How far one run's val moves with its MLP seed alone in an ensemble study: the pooled standard
    deviation of ``student_val`` over the seeds of each teacher's (or ensemble's) reported runs, a
    row per (study, method); the yardstick for a lever step measured on one run. A run that several
    records of a study share (one that reads no teacher) counts once."""
    runs: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for record in records:
        if ENSEMBLE_KEY not in record.params:
            continue
        study = (record.source_label, record.name)
        for run in record.runs:
            if run.get("phase", "reported") == "reported":
                runs.setdefault(study, {})[run["experiment"]] = run
    rows = []
    for (source, name), found in runs.items():
        table = pd.DataFrame(list(found.values())).reindex(columns=["method", "teachers", "teacher_replicate", "student_val"])
        for method, of_method in table.groupby("method"):
            groups = [group["student_val"].to_numpy() for _, group in
                      of_method.groupby(["teachers", "teacher_replicate"], dropna=False) if len(group) > 1]
            freedom = sum(len(group) - 1 for group in groups)
            if freedom:
                squares = sum(((group - group.mean()) ** 2).sum() for group in groups)
                rows.append({"source": source, "name": name, "method": method,
                             "runs": sum(len(group) for group in groups), "sd": math.sqrt(squares / freedom)})
    return pd.DataFrame(rows, columns=["source", "name", "method", "runs", "sd"])
