"""``dml``: deep mutual learning (Zhang, Xiang, Hospedales & Lu, CVPR 2018); no trained teacher.

``peers`` MLPs (built like the student, each with its own initialisation) and, with
``cnn_peer``, a fresh CNN of the teacher's architecture, train together from scratch, each on
CE plus the mean KL divergence to the others' predictions. The first MLP peer is the student
that is saved and reported; the others are thrown away. Params ``distill.dml``: ``peers``
(MLPs, at least 2), ``cnn_peer``.
"""
from __future__ import annotations

from pydantic import Field

from distillation.methods.spec import MethodParams, MethodSpec


class DeepMutualLearningParams(MethodParams):
    peers: int = Field(2, ge=2)  # MLP peers; the first is the student
    cnn_peer: bool = False  # true adds a fresh CNN of the teacher's architecture


def deep_mutual_learning_trainer() -> type:
    from keras import ops

    from distillation.training.losses import mutual_learning_loss
    from distillation.methods.base import StudentTrainer
    from distillation.models.networks import build_mlp, build_teacher

    class DeepMutualLearning(StudentTrainer):
        def __init__(self, student, settings, context):
            super().__init__(student, settings, context)
            self.other_peers = [
                build_mlp(context.num_classes, context.hidden_units, context.dropout, name=f"peer_{index}",
                          input_shape=context.input_shape)
                for index in range(1, settings.peers)
            ]
            if settings.cnn_peer:
                self.other_peers.append(build_teacher(context.num_classes, context.dropout, context.input_shape))

        def call(self, images, training: bool = False):
            return [self.student(images, training=training)] + [peer(images, training=training) for peer in self.other_peers]

        def student_logits(self, y_pred):
            return y_pred[0]

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return ops.mean(mutual_learning_loss(y["labels"], y_pred))

    return DeepMutualLearning


METHOD = MethodSpec(
    name="dml",
    params=DeepMutualLearningParams,
    trainer=deep_mutual_learning_trainer,
    grid={"distill.dml.peers": [2, 3]},
)
