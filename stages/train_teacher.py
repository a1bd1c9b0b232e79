"""Stages ``train_teacher`` and ``train_teacher_members``: the original's CNN, early-stopped on val.

``python -m stages.train_teacher`` trains the teacher (seed ``seed + teacher.replicate``);
``python -m stages.train_teacher members`` trains the other members of an ensemble of
``teacher.ensemble`` teachers, with the seeds after it (:mod:`distillation.targets.ensemble`). Two stages,
so that changing the size of the ensemble never re-trains the teacher itself, and a run with one
teacher and a run with an ensemble that it leads share it.

With ``teacher.model: PATH`` (your own trained ``.keras`` teacher) nothing is trained: the file is
checked against the prepared data, stored as ``models/teacher.keras`` (logits out:
:mod:`distillation.models.given_teacher`) and measured on val and test like a trained teacher.
Its SHA-256 goes into ``metrics/teacher.json``.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distillation.atomic import write_json
from distillation.cli import run_stage
from distillation.targets.ensemble import member_path, member_seeds
from distillation.fingerprints import file_sha256
from distillation.config.params import TeacherParams, load_params
from distillation.paths import PREPARED_DIR, TEACHER_MEMBERS_DIR, metrics_path, model_path, training_log_dir
from distillation.data.prepared import PreparedSplit, load_prepared

if TYPE_CHECKING:  # Keras is imported where a model is built or saved: `members` of a one-teacher run starts without it
    import keras

USAGE = "usage: python -m stages.train_teacher [members]"


def train_teacher(
    splits: dict[str, PreparedSplit], teacher: TeacherParams, seed: int, log_dir: Path | None = None
) -> tuple[keras.Model, dict[str, Any]]:
    """Train the teacher CNN with the ``teacher`` params; return it and its metrics (curves to ``log_dir``)."""
    from distillation.models.networks import build_teacher, input_shape_of
    from distillation.training.fit import configure_runtime, train_classifier

    configure_runtime(seed)
    input_shape = input_shape_of(splits["train"].images)
    model, metrics = train_classifier(lambda: build_teacher(len(splits["train"].classes), teacher.dropout, input_shape), splits,
                                      teacher, "teacher", log_dir)
    # The seed goes into the metrics so a report can tell a run's own teacher from a stale one.
    return model, {**metrics, "seed": seed}


def given_teacher(splits: dict[str, PreparedSplit], teacher: TeacherParams, log_dir: Path | None = None) -> tuple[keras.Model, dict[str, Any]]:
    """Your teacher (``teacher.model``), checked and measured; its file's SHA-256 in the metrics.

    ``log_dir`` (the trained teacher's curves) is left empty: nothing trains.
    """
    from distillation.models.given_teacher import adopt_teacher

    model, metrics = adopt_teacher(teacher.model, splits)
    if log_dir is not None:
        shutil.rmtree(log_dir, ignore_errors=True)
        log_dir.mkdir(parents=True)
    return model, {**metrics, "sha256": file_sha256(Path(teacher.model))}


def train_members(splits: dict[str, PreparedSplit], teacher: TeacherParams, seed: int, directory: Path) -> dict[str, Any]:
    """Train members 1 … N − 1 of the ensemble into ``directory`` (emptied first); return their metrics.

    ``teacher`` is the ``teacher`` section (``ensemble``, ``replicate`` and the recipe); member
    ``i`` is seeded ``seed + replicate + i`` and trained exactly as the teacher is.
    """
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    seeds = member_seeds(seed, teacher.replicate, teacher.ensemble)
    members = []
    for index, member_seed in enumerate(seeds[1:], start=1):
        from distillation.models.files import save_model  # here: with one teacher no member runs, and Keras stays unloaded

        model, metrics = train_teacher(splits, teacher, member_seed)
        save_model(model, member_path(directory, index))
        members.append({"member": index, **metrics})
        print(f"teacher member {index} (seed {member_seed}): test accuracy {metrics['test_accuracy']:.4f}")
    # The folder is never empty, so DVC stores a one-teacher "ensemble" like any other.
    write_json(directory / "members.json", {"ensemble": teacher.ensemble, "seeds": seeds})
    return {"ensemble": teacher.ensemble, "members": members}


def main() -> None:
    arguments = sys.argv[1:]
    if arguments not in ([], ["members"]):
        raise ValueError(USAGE)
    params = load_params()
    splits = load_prepared(PREPARED_DIR)
    if arguments == ["members"]:
        write_json(metrics_path("teacher_members"), train_members(splits, params.teacher, params.seed, TEACHER_MEMBERS_DIR))
        return
    if params.teacher.model is not None:
        model, metrics = given_teacher(splits, params.teacher, training_log_dir("teacher"))
        done = f"your teacher {params.teacher.model} ({metrics['outputs']})"
    else:
        model, metrics = train_teacher(splits, params.teacher, params.teacher_seed, training_log_dir("teacher"))
        done = f"after {metrics['epochs']} epochs"
    from distillation.models.files import save_model

    save_model(model, model_path("teacher"))
    write_json(metrics_path("teacher"), metrics)
    print(f"teacher: test accuracy {metrics['test_accuracy']:.4f}, {done}")


if __name__ == "__main__":
    run_stage(main)
