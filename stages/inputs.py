"""Stage ``inputs``: the SHA-256 of your ``data.source`` path and your ``teacher.model`` file.

It runs on every ``dvc repro`` (``always_changed``): it only reads and hashes, and writes
``inputs/data_source.json`` and ``inputs/teacher_model.json``, which ``source`` and
``train_teacher`` depend on. Edit your image folder or overwrite your teacher at the same path,
and those stages re-run; otherwise the files are unchanged and nothing else runs
(:mod:`distillation.fingerprints` says why DVC needs this).
"""
from __future__ import annotations

from distillation.atomic import write_json
from distillation.cli import run_stage
from distillation.config.params import Params, load_params
from distillation.data.own_images import NAMED_SOURCES
from distillation.fingerprints import input_record
from distillation.paths import INPUTS_DATA_SOURCE, INPUTS_TEACHER_MODEL


def fingerprint_inputs(params: Params) -> dict[str, dict]:
    """Each input file's record, keyed by where the stage writes it."""
    return {
        str(INPUTS_DATA_SOURCE): input_record("data.source", params.data.source, NAMED_SOURCES),
        str(INPUTS_TEACHER_MODEL): input_record("teacher.model", params.teacher.model),
    }


def main() -> None:
    for path, record in fingerprint_inputs(load_params()).items():
        write_json(path, record)


if __name__ == "__main__":
    run_stage(main)
