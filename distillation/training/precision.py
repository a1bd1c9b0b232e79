"""Mixed precision for training, where the hardware does it fast: ``precision`` in each training section.

``auto`` (the default) is the fastest precision this hardware runs natively (:func:`resolved_precision`):
bfloat16 where the CPU or GPU computes it, else ``float32``; the metrics record what it ran. ``mixed_bfloat16`` computes the
layers in bfloat16 with float32 weights: fast on CPUs with AMX or AVX512-BF16 (Intel Xeon from
Sapphire Rapids / Cooper Lake) and on recent GPUs, *emulated and slower* on a CPU without them.
``mixed_float16`` is for GPUs (on a CPU it is emulated). Either is refused where it would be
emulated, in one line naming the setting and the override (:data:`OVERRIDE`).

What stays float32 under a mixed policy, and why: each model's ``logits`` layer (so every loss —
the softmax at temperature T, the KL and cross-entropy terms — sees float32 logits: a temperature
of 10 divides bfloat16's 8 bits of mantissa further), the variables and the optimizer (Keras's
mixed policies keep weights float32), and everything stored between stages (logits as float32,
hints as float16). The teacher's passes over the data (``soft_targets``, ``view_targets``) run at
its training's precision (:func:`teacher_pass_precision`): on a bfloat16 CPU the stored logits are
then those of a bfloat16 forward pass (the teacher's reported accuracies stay float32's).
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from distillation.config.params import PRECISIONS, TeacherParams

if TYPE_CHECKING:  # Keras is imported where a model is built or run
    import keras

OVERRIDE = "DISTILLATION_ALLOW_EMULATED_PRECISION"
BFLOAT16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def resolved_precision(precision: str, cpu_flags: set[str], gpu: str | None, gpu_bfloat16: bool = False) -> str:
    """``precision`` as it runs here: ``auto`` is the fastest this hardware runs natively —
    ``mixed_bfloat16`` on a CPU with AMX or AVX512-BF16 (no GPU) and on a GPU that computes bfloat16
    (compute capability 8 or later), ``mixed_float16`` on an older GPU, ``float32`` elsewhere. Any
    other value is itself."""
    if precision != "auto":
        return precision
    if gpu is not None:
        return "mixed_bfloat16" if gpu_bfloat16 else "mixed_float16"
    return "mixed_bfloat16" if any(flag in cpu_flags for flag in BFLOAT16_CPU_FLAGS) else "float32"


def emulation_reason(precision: str, cpu: str, cpu_flags: set[str], gpu: str | None) -> str | None:
    """Why ``precision`` would run emulated (slower than float32) here, or ``None`` if it runs natively."""
    if precision == "float32" or gpu is not None:
        return None
    if precision == "mixed_float16":
        return f"this machine has no GPU ({cpu}), and float16 on a CPU is emulated, slower than float32"
    if not any(flag in cpu_flags for flag in BFLOAT16_CPU_FLAGS):
        return f"this CPU ({cpu}) has neither AMX nor AVX512-BF16, so bfloat16 would be emulated, slower than float32"
    return None


def check_precision(precision: str, key: str, cpu: str, cpu_flags: set[str], gpu: str | None) -> None:
    """Refuse ``precision`` (the param ``key``) where it would be emulated, unless :data:`OVERRIDE` is set."""
    reason = emulation_reason(precision, cpu, cpu_flags, gpu)
    if reason and os.environ.get(OVERRIDE) != "1":
        raise ValueError(f"{key}={precision}: {reason}; use float32, or set {OVERRIDE}=1 to run it anyway")


def precision_here(precision: str, key: str) -> str:
    """``precision`` (the param ``key``) as it runs on this machine, ``auto`` resolved
    (:func:`resolved_precision`), after checking this machine does it natively (:func:`check_precision`)."""
    import tensorflow as tf

    from distillation.machine import cpu_model_and_flags

    if precision not in PRECISIONS:
        raise ValueError(f"{key}: must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    gpus = tf.config.list_physical_devices("GPU")
    cpu, flags = cpu_model_and_flags()
    gpu = gpus[0].name if gpus else None
    capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability", (0, 0)) if gpus else (0, 0)
    running = resolved_precision(precision, flags, gpu, gpu_bfloat16=tuple(capability) >= (8, 0))
    check_precision(running, key, cpu, flags, gpu)
    return running


@contextmanager
def training_precision(precision: str, key: str) -> Iterator[str]:
    """Build and train the models made inside under ``precision`` (Keras's global dtype policy) as it
    runs here (:func:`precision_here`); yields that precision. The policy before is restored on the way out."""
    running = precision_here(precision, key)
    with global_policy(running):
        yield running


def teacher_pass_precision(teacher: TeacherParams) -> str:
    """The precision the teacher's passes over the data run at (``soft_targets``, ``view_targets``):
    the original's CNN at its training's (``teacher.precision`` as it runs here); a teacher of yours
    (``teacher.model``) in float32, its file's own layers as they are."""
    return "float32" if teacher.model is not None else precision_here(teacher.precision, "teacher.precision")


def computing_in(model: keras.Model, precision: str) -> keras.Model:
    """``model`` (the same weights) with every layer but ``logits`` computing in ``precision``, a mixed
    policy, as if built under it; ``model`` itself for ``float32``. The logits stay float32, as in training."""
    if precision == "float32":
        return model
    import keras

    from distillation.models.networks import LOGITS_LAYER

    def clone(layer):
        config = layer.get_config()
        if layer.name != LOGITS_LAYER:
            config["dtype"] = precision
        return type(layer).from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


@contextmanager
def global_policy(name: str) -> Iterator[None]:
    """Keras's global dtype policy set to ``name`` inside, the one before restored on the way out."""
    import keras

    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)


def float32_copy(model, build):
    """``model`` as float32 layers with its trained weights (a fresh ``build()`` under float32), so that
    what is saved and run downstream is the same kind of model whatever precision trained it;
    ``model`` itself when it already is float32."""
    if model.dtype_policy.name == "float32":
        return model
    with global_policy("float32"):
        copy = build()
    copy.set_weights(model.get_weights())
    return copy
