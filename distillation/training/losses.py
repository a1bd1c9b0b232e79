"""Per-sample loss terms of the distillation methods, each as its paper defines it.

Every function takes logits (N, K) and class indices (N,) and returns a loss per sample (N,);
the trainers in :mod:`distillation.methods` average them. NumPy references in the tests pin
each formula.
"""
from __future__ import annotations

import math

from keras import ops

# Added to a logit to take it out of a softmax (the DKD authors mask the target class this way).
_MASKED_OUT = -1e9


def distillation_loss(
    labels,
    teacher_logits,
    student_logits,
    temperature: float,
    hard_weight: float,
    scale_soft_by_t2: bool = False,
):
    """Knowledge distillation (Hinton, Vinyals & Dean, 2015, arXiv:1503.02531), as the seed used it.

    ``λ·CE(y, softmax(z_s)) + s·CE(softmax(z_t/T), softmax(z_s/T))``; ``hard_weight`` is λ and
    ``s`` is T² when ``scale_soft_by_t2`` (the paper's advice, which keeps the soft term's
    gradients the same size as T changes) and 1 otherwise (the seed experiment).
    """
    hard = ops.sparse_categorical_crossentropy(labels, student_logits, from_logits=True)
    teacher_distribution = ops.softmax(ops.divide(teacher_logits, temperature), axis=-1)
    soft = ops.categorical_crossentropy(
        teacher_distribution, ops.divide(student_logits, temperature), from_logits=True
    )
    soft_scale = temperature**2 if scale_soft_by_t2 else 1.0
    return hard_weight * hard + soft_scale * soft


def decoupled_kd_terms(labels, teacher_logits, student_logits, temperature: float):
    """TCKD and NCKD of Decoupled KD (Zhao et al., CVPR 2022, arXiv:2203.08679), each per sample.

    TCKD is the KL divergence between the teacher's and the student's binary distributions
    [p_target, 1 − p_target]; NCKD the KL divergence between their distributions over the
    non-target classes alone (softmax with the target class left out). Both at temperature T,
    computed from log-sum-exps so that neither takes the log of a rounded-off probability.
    """
    num_classes = ops.shape(student_logits)[-1]
    target = ops.one_hot(ops.cast(labels, "int32"), num_classes)

    def log_parts(logits):
        scaled = ops.divide(ops.cast(logits, "float32"), temperature)
        log_all = ops.logsumexp(scaled, axis=-1)
        log_others = ops.logsumexp(scaled + target * _MASKED_OUT, axis=-1)
        log_p_target = ops.sum(scaled * target, axis=-1) - log_all
        log_p_rest = log_others - log_all
        log_non_target = scaled + target * _MASKED_OUT - ops.expand_dims(log_others, -1)
        return log_p_target, log_p_rest, log_non_target

    t_target, t_rest, t_non_target = log_parts(teacher_logits)
    s_target, s_rest, s_non_target = log_parts(student_logits)
    tckd = ops.exp(t_target) * (t_target - s_target) + ops.exp(t_rest) * (t_rest - s_rest)
    non_target = 1.0 - target  # the masked entries have zero teacher probability: keep them out
    nckd = ops.sum(non_target * ops.exp(t_non_target) * (t_non_target - s_non_target), axis=-1)
    return tckd, nckd


def decoupled_kd_loss(labels, teacher_logits, student_logits, temperature: float, alpha: float, beta: float, warmup):
    """DKD's whole objective: ``CE(y, z_s) + warmup·T²·(α·TCKD + β·NCKD)``.

    ``warmup`` rises linearly from 0 to 1 over the first epochs, as in the authors' training.
    """
    hard = ops.sparse_categorical_crossentropy(labels, student_logits, from_logits=True)
    tckd, nckd = decoupled_kd_terms(labels, teacher_logits, student_logits, temperature)
    return hard + warmup * temperature**2 * (alpha * tckd + beta * nckd)


def hint_loss(projected_student_hidden, teacher_hidden):
    """FitNets' hint term (Romero et al., ICLR 2015, arXiv:1412.6550): squared L2 distance.

    The paper uses ½‖W_r·h_s − h_t‖²; this is its mean over the teacher's features (the hint
    weight absorbs the constant), so its size does not grow with the width of the hint layer.
    """
    difference = ops.cast(projected_student_hidden, "float32") - ops.cast(teacher_hidden, "float32")
    return ops.mean(ops.square(difference), axis=-1)


def mutual_learning_loss(labels, peer_logits: list):
    """Deep mutual learning (Zhang et al., CVPR 2018, arXiv:1706.00384), summed over the peers.

    Peer i minimises ``CE(y, p_i) + 1/(N−1)·Σ_{j≠i} KL(p_j ‖ p_i)``. The paper updates the peers
    in turn, each against the others' current predictions; here all peers step at once, with
    the others' predictions held constant (no gradient flows into them), which is the same
    gradient for every peer.
    """
    peers = len(peer_logits)
    if peers < 2:
        raise ValueError(f"deep mutual learning needs at least two peers, got {peers}")
    log_probabilities = [ops.log_softmax(logits, axis=-1) for logits in peer_logits]
    total = 0.0
    for i, logits in enumerate(peer_logits):
        total = total + ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        for j in range(peers):
            if j != i:
                log_p_j = ops.stop_gradient(log_probabilities[j])
                kl = ops.sum(ops.exp(log_p_j) * (log_p_j - log_probabilities[i]), axis=-1)
                total = total + kl / (peers - 1)
    return total


def label_smoothing_loss(labels, student_logits, epsilon: float):
    """Cross-entropy against smoothed labels, ``(1 − ε)·one_hot + ε/K`` (Szegedy et al., 2016)."""
    num_classes = ops.shape(student_logits)[-1]
    log_probabilities = ops.log_softmax(student_logits, axis=-1)
    hard = -ops.sum(ops.one_hot(ops.cast(labels, "int32"), num_classes) * log_probabilities, axis=-1)
    uniform = -ops.mean(log_probabilities, axis=-1)
    return (1.0 - epsilon) * hard + epsilon * uniform


def handmade_teacher_logits(labels, num_classes: int, correct_probability: float):
    """Teacher-free KD's virtual teacher (Yuan et al., CVPR 2020, arXiv:1909.11723), as logits.

    The teacher puts ``correct_probability`` on the true class and spreads the rest evenly; its
    logits are the log of that distribution, so softening them at temperature T gives the
    paper's softened virtual teacher, and :func:`distillation_loss` applies unchanged.
    """
    target = ops.one_hot(ops.cast(labels, "int32"), num_classes)
    log_right = math.log(correct_probability)
    log_wrong = math.log((1.0 - correct_probability) / (num_classes - 1))
    return target * log_right + (1.0 - target) * log_wrong
