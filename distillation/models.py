"""The seed experiment's architectures, and the wrapper that trains an MLP by distillation.

Every model ends in a plain Dense layer and outputs logits; losses take ``from_logits=True``.
"""
from __future__ import annotations

import keras
from keras import layers, ops

from distillation.losses import distillation_loss

INPUT_SHAPE = (28, 28, 1)


def build_teacher(num_classes: int, dropout: float = 0.0) -> keras.Sequential:
    """The seed CNN: conv 64 → pool → conv 128 → pool → dense 1024 → K (3,378,970 weights for K=26)."""
    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(128, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dropout(dropout),
            layers.Dense(1024, activation="relu"),
            layers.Dropout(dropout),
            layers.Dense(num_classes, name="logits"),
        ],
        name="teacher",
    )


def build_mlp(num_classes: int, hidden_units: int = 512, dropout: float = 0.0, name: str = "mlp") -> keras.Sequential:
    """The seed MLP: flatten → dense 512 ReLU → K (415,258 weights for K=26, 512 units)."""
    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE),
            layers.Flatten(),
            layers.Dense(hidden_units, activation="relu"),
            layers.Dropout(dropout),
            layers.Dense(num_classes, name="logits"),
        ],
        name=name,
    )


class Distiller(keras.Model):
    """Trains ``student`` with :func:`distillation_loss` on stored teacher logits.

    ``fit(images, (labels, teacher_logits))``: the targets carry the hard labels and the
    teacher's logits, so the teacher never runs during training. Only ``student`` is saved;
    it is a plain Sequential model that loads without custom objects.
    """

    def __init__(self, student: keras.Model, temperature: float, hard_weight: float, scale_soft_by_t2: bool = False):
        super().__init__(name="distiller")
        self.student = student
        self.temperature = float(temperature)
        self.hard_weight = float(hard_weight)
        self.scale_soft_by_t2 = bool(scale_soft_by_t2)
        self.accuracy_metric = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    def call(self, images, training: bool = False):
        return self.student(images, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        labels, teacher_logits = y
        per_sample = distillation_loss(
            labels, teacher_logits, y_pred, self.temperature, self.hard_weight, self.scale_soft_by_t2
        )
        return ops.mean(per_sample)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        labels, _ = y
        # Accuracy of the ordinary (T = 1) output against the true labels.
        self.accuracy_metric.update_state(labels, y_pred)
        return self.get_metrics_result()
