"""The seed experiment's architectures.

Every model ends in a plain Dense layer and outputs logits, float32 even under a mixed precision
policy (:mod:`distillation.training.precision`); losses take ``from_logits=True``.
The last hidden layer of each is named ``hidden``: FitNets reads it from the teacher (through
:func:`with_hidden_output`) and guides the student's with it.
"""
from __future__ import annotations

import keras
from keras import layers

INPUT_SHAPE = (28, 28, 1)  # EMNIST's; your own images' shape is the prepared images' (data.image_size, data.channels)
HIDDEN_LAYER = "hidden"
LOGITS_LAYER = "logits"  # every model's last layer: float32 under any precision
HiddenWidths = int | tuple[int, ...]  # one hidden layer's units, or each layer's in order (baseline.hidden_units)
# Two 3 × 3 valid convolutions, each followed by a 2 × 2 pool, leave a 1 × 1 map from 10 × 10.
TEACHER_MIN_SIDE = 10


def check_teacher_input(input_shape: tuple[int, int, int]) -> None:
    """A ``ValueError`` naming ``data.image_size`` if the original's CNN cannot take images of this shape."""
    height, width = input_shape[:2]
    if min(height, width) < TEACHER_MIN_SIDE:
        raise ValueError(f"data.image_size: the teacher CNN needs images of at least {TEACHER_MIN_SIDE} × {TEACHER_MIN_SIDE} "
                         f"pixels, the prepared images are {height} × {width}; set data.image_size (e.g. 28) or teacher.model")


def logits_dtype() -> str | None:
    """The last layer's dtype: float32 under a mixed precision policy (every loss then sees float32
    logits), else the default (``None``, which keeps a float32 model's file exactly as before)."""
    return "float32" if keras.mixed_precision.global_policy().name.startswith("mixed") else None


def build_teacher(num_classes: int, dropout: float = 0.0, input_shape: tuple[int, int, int] = INPUT_SHAPE) -> keras.Sequential:
    """The original's CNN: conv 64 → pool → conv 128 → pool → dense 1024 → K (3,378,970 weights for K=26 at 28 × 28 × 1)."""
    check_teacher_input(input_shape)
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(128, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dropout(dropout),
            layers.Dense(1024, activation="relu", name=HIDDEN_LAYER),
            layers.Dropout(dropout),
            layers.Dense(num_classes, name=LOGITS_LAYER, dtype=logits_dtype()),
        ],
        name="teacher",
    )


def build_mlp(num_classes: int, hidden_units: HiddenWidths = 512, dropout: float = 0.0, name: str = "mlp",
              input_shape: tuple[int, int, int] = INPUT_SHAPE) -> keras.Sequential:
    """The original's MLP: flatten → dense 512 ReLU → K (415,258 weights for K=26, 512 units, 28 × 28 × 1).

    ``hidden_units`` a tuple of widths stacks that many ReLU layers, each followed by dropout; the
    last is named ``hidden`` (FitNets guides it), the ones before ``hidden_1``, ``hidden_2``, ….
    """
    widths = (hidden_units,) if isinstance(hidden_units, int) else tuple(hidden_units)
    hidden = []
    for index, width in enumerate(widths, start=1):
        hidden += [layers.Dense(width, activation="relu", name=HIDDEN_LAYER if index == len(widths) else f"{HIDDEN_LAYER}_{index}"),
                   layers.Dropout(dropout)]
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Flatten(),
            *hidden,
            layers.Dense(num_classes, name=LOGITS_LAYER, dtype=logits_dtype()),
        ],
        name=name,
    )


def with_hidden_output(model: keras.Model, hidden_layer: str = HIDDEN_LAYER) -> keras.Model:
    """A view of ``model`` (same weights) that returns ``(hidden activations, logits)``, the activations
    flattened to one row per image; a ``ValueError`` naming ``teacher.hidden_layer`` if there is no such layer."""
    names = [layer.name for layer in model.layers]
    if hidden_layer not in names:
        raise ValueError(f"teacher.hidden_layer '{hidden_layer}': the teacher has no such layer; name the one FitNets "
                         f"reads hints from, one of: {', '.join(names)}")
    hidden = model.get_layer(hidden_layer).output
    if len(hidden.shape) != 2:
        hidden = layers.Flatten(name=f"{hidden_layer}_flat")(hidden)
    return keras.Model(model.inputs, [hidden, model.outputs[0]], name=f"{model.name}_with_hidden")


def input_shape_of(images) -> tuple[int, int, int]:
    """The models' input shape for prepared images (N, H, W, C)."""
    return tuple(int(side) for side in images.shape[1:])
