"""The knowledge-distillation loss of Hinton et al. (2015), as the seed experiment used it."""
from __future__ import annotations

from keras import ops


def distillation_loss(
    labels,
    teacher_logits,
    student_logits,
    temperature: float,
    hard_weight: float,
    scale_soft_by_t2: bool = False,
):
    """Per-sample loss ``λ·CE(y, softmax(z_s)) + s·CE(softmax(z_t/T), softmax(z_s/T))``.

    ``labels`` are class indices, the logits are (N, K). ``hard_weight`` is λ; ``s`` is T² when
    ``scale_soft_by_t2`` (Hinton et al.'s advice, which keeps the soft term's gradients the
    same size as T changes) and 1 otherwise (the seed experiment).
    """
    hard = ops.sparse_categorical_crossentropy(labels, student_logits, from_logits=True)
    teacher_distribution = ops.softmax(ops.divide(teacher_logits, temperature), axis=-1)
    soft = ops.categorical_crossentropy(
        teacher_distribution, ops.divide(student_logits, temperature), from_logits=True
    )
    soft_scale = temperature**2 if scale_soft_by_t2 else 1.0
    return hard_weight * hard + soft_scale * soft
