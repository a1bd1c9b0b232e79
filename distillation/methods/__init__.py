"""The distillation methods, chosen by name (``distill.method``) from one registry.

Each module holds one method: a :class:`~distillation.methods.base.StudentTrainer` subclass
with the same interface. Add a method by writing its module, adding it here, and giving its
params a section ``distill.<name>`` in ``params.yaml`` and rules in ``distillation.params``; a
method that uses the shared temperature or λ (``distill.temp``, ``distill.lambda``) says so in
``shared_params``.
"""
from __future__ import annotations

from typing import Any

from distillation.methods.base import StudentTrainer, TrainingContext
from distillation.methods.dkd import DecoupledKD
from distillation.methods.dml import DeepMutualLearning
from distillation.methods.fitnets import FitNets
from distillation.methods.hard_labels import HardLabels
from distillation.methods.kd import KnowledgeDistillation
from distillation.methods.label_smoothing import LabelSmoothing
from distillation.methods.teacher_free import TeacherFree

METHODS: dict[str, type[StudentTrainer]] = {
    "kd": KnowledgeDistillation,
    "dkd": DecoupledKD,
    "fitnets": FitNets,
    "dml": DeepMutualLearning,
    "label_smoothing": LabelSmoothing,
    "teacher_free": TeacherFree,
    "hard_labels": HardLabels,
}
# Controls: no real teacher's knowledge in them, only regularisation of the labels (or, for
# hard_labels with views, the augmentation alone).
CONTROLS = ("label_smoothing", "teacher_free", "hard_labels")

__all__ = ["CONTROLS", "METHODS", "StudentTrainer", "TrainingContext", "method_settings", "method_trainer"]


def method_trainer(name: str) -> type[StudentTrainer]:
    if name not in METHODS:
        raise ValueError(f"params.yaml: distill.method must be one of {', '.join(METHODS)}, got {name!r}")
    return METHODS[name]


def method_settings(distill: dict[str, Any]) -> dict[str, Any]:
    """What the running method reads of the ``distill`` params: the shared knobs it declares and its own section.

    Params of earlier versions, whose sections held their own ``temp`` and ``lambda``, give the
    same settings (the section's values win).
    """
    method = distill["method"]
    shared = {key: distill[key] for key in method_trainer(method).shared_params if key in distill}
    return {**shared, **(distill.get(method) or {})}
