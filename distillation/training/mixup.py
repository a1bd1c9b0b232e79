"""Mixup of stored views with mixed targets, for the methods whose loss is linear in their targets.

With ``distill.<method>.mixup: α > 0`` each training batch of versions (an image or one of its
stored views, :mod:`distillation.training.view_batches`) is mixed with the same batch in another order:
``x̃ = w·x + (1 − w)·x[π]``, one ``w ~ Beta(α, α)`` per batch (Zhang et al. 2018). The teacher
never sees ``x̃`` (its outputs are stored), so the targets are mixed instead: the loss is
``w·L(y) + (1 − w)·L(y[π])``. For a loss made of cross-entropies against the labels and against
the teacher's probabilities at T (hard_labels, kd) that *is* the loss against the mixed one-hot
labels and the mixed probabilities at T: probabilities, not logits, are what mix. Beyer et al.
(CVPR 2022) found mixup helps when the teacher sees the mixed image; here it cannot, and val says
whether mixed targets still help.

A method that offers it declares its params as a :class:`MixupParams`.
"""
from __future__ import annotations

from pydantic import Field

from distillation.methods.spec import MethodParams

MIX_WEIGHT = "mixup_weight"  # the batch's w, one per image (Keras slices targets by image)
PARTNER = "partner_"  # the targets of x[π], beside the batch's own


class MixupParams(MethodParams):
    mixup: float = Field(0.0, ge=0)  # α of Beta(α, α); 0: no mixing (the run of before mixup existed)


def mixup_alpha(settings: MethodParams) -> float:
    """α of a method's settings (``DistillParams.settings``); 0 for a method that offers no mixup."""
    return settings.mixup if isinstance(settings, MixupParams) else 0.0


def with_mixed_targets(trainer: type) -> type:
    """``trainer`` (a ``StudentTrainer`` subclass) whose training loss mixes its targets as its images were.

    A batch without :data:`MIX_WEIGHT` (val, or training without mixup) gets the method's own loss.
    """

    class MixedTargets(trainer):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            if MIX_WEIGHT not in y:
                return super().compute_loss(x, y, y_pred, sample_weight, training)
            weight = y[MIX_WEIGHT][0]
            own = {key: value for key, value in y.items() if key != MIX_WEIGHT and not key.startswith(PARTNER)}
            partner = {key.removeprefix(PARTNER): value for key, value in y.items() if key.startswith(PARTNER)}
            return (weight * super().compute_loss(x, own, y_pred, sample_weight, training)
                    + (1.0 - weight) * super().compute_loss(x, partner, y_pred, sample_weight, training))

    MixedTargets.__name__ = trainer.__name__  # the trainer's name stays the method's
    MixedTargets.__qualname__ = trainer.__qualname__
    return MixedTargets
