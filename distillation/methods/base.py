"""What every distillation method shares: a ``keras.Model`` that trains the student MLP.

A method's trainer is a subclass of :class:`StudentTrainer` that defines ``compute_loss``; its
module declares which stored teacher outputs it reads (``METHOD.teacher_outputs``,
:mod:`distillation.methods.spec`). ``fit(images, targets)`` takes ``targets`` as a dict:
``labels`` always, ``teacher_logits`` / ``teacher_hidden`` when the method asks for them, so the
teacher never runs during training. Whatever else a method trains
(a hint regressor, DML's peers) lives in the trainer and is thrown away: only ``student``, a
plain Sequential MLP, is saved.
"""
from __future__ import annotations

from dataclasses import dataclass
import keras
from keras import ops

from distillation.methods.spec import MethodParams


@dataclass(frozen=True)
class TrainingContext:
    """Facts about the run that some methods need beyond their own params."""

    num_classes: int
    steps_per_epoch: int  # DKD's warm-up is counted in optimizer steps
    hidden_units: int | tuple[int, ...]  # DML builds its MLP peers like the student (models.networks.HiddenWidths)
    dropout: float
    input_shape: tuple[int, int, int] = (28, 28, 1)  # the prepared images' (H, W, C): DML builds its peers for it
    teacher_hidden_width: int | None = None  # FitNets' regressor maps onto it (after prepare_teacher_outputs)


class StudentTrainer(keras.Model):
    """Base of every method: reports the student's accuracy and cross-entropy on the true labels.

    Those two metrics (``accuracy``, ``ce``; ``val_accuracy``, ``val_ce`` on val) are the same
    for every method, so early stopping and the comparison treat all methods alike, whatever
    their training loss.
    """

    def __init__(self, student: keras.Model, settings: MethodParams, context: TrainingContext):
        super().__init__(name=f"{type(self).__name__.lower()}_trainer")
        self.student = student
        self.settings = settings
        self.context = context
        self.accuracy_metric = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        self.cross_entropy_metric = keras.metrics.Mean(name="ce")

    def call(self, images, training: bool = False):
        return self.student(images, training=training)

    def student_logits(self, y_pred):
        """The student's logits within what :meth:`call` returns."""
        return y_pred

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        logits = self.student_logits(y_pred)
        self.accuracy_metric.update_state(y["labels"], logits)
        self.cross_entropy_metric.update_state(
            ops.sparse_categorical_crossentropy(y["labels"], logits, from_logits=True)
        )
        return self.get_metrics_result()
