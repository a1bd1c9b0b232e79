"""What a user of an exported file needs beside it: which output is which character, and what input it takes.

Each exported file gets a card, ``<file>.json`` beside it, and the same JSON in the file's own
metadata under ``model_card`` (ONNX ``metadata_props``; a LiteRT flatbuffer's ``metadata``): the class characters by output index, from
the prepared data's classes (26 letters by default; your own images' class names), and the input
contract — shape, dtype, value range, polarity, orientation, and for an int8 file the scale and
zero point of its input and output. A model trained on your own images (a folder or an ``.npz``)
says instead how they were made: ``resize`` (height, width) and ``mode`` (Pillow's ``L`` or ``RGB``). :func:`read_card` is what ``scripts.predict`` uses; it needs neither Keras nor
TensorFlow.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError

METADATA_KEY = "model_card"
PREPROCESSING = ("EMNIST's (Cohen et al. 2017): grey, white ink on black, Gaussian blur, crop to the ink's bounding "
                 "box, centred in a square frame, scaled to 24 × 24 inside a 2-pixel margin, 28 × 28, upright")


OWN_IMAGE_MODES = {1: "L", 3: "RGB"}


def card_path(model_path: Path) -> Path:
    """``student.onnx`` → ``student.onnx.json``."""
    return model_path.with_name(model_path.name + ".json")


def model_card(classes: tuple[str, ...], input_quantization: tuple[float, int] | None = None,
               output_quantization: tuple[float, int] | None = None, own_images_shape: tuple[int, int, int] | None = None) -> dict[str, Any]:
    """The card of one file; quantization ``(scale, zero_point)`` for an int8 file's input and output;
    ``own_images_shape`` (H, W, C) for a model of your own images, else the EMNIST contract."""
    def tensor(dtype: str, quantization: tuple[float, int] | None) -> dict[str, Any]:
        described: dict[str, Any] = {"dtype": "int8" if quantization else dtype}
        if quantization:
            described["quantization"] = {"scale": float(quantization[0]), "zero_point": int(quantization[1]),
                                         "real_value": "scale × (stored − zero_point)"}
        return described

    if own_images_shape is None:
        taken = {"shape": [None, 28, 28, 1], **tensor("float32", input_quantization), "range": [0.0, 1.0],
                 "foreground": "ink 1.0 (white) on background 0.0 (black)",
                 "orientation": "upright: row 0 is the top of the letter (the EMNIST .mat files store it transposed)",
                 "preprocessing": PREPROCESSING}
    else:
        height, width, channels = own_images_shape
        mode = OWN_IMAGE_MODES[channels]
        taken = {"shape": [None, height, width, channels], **tensor("float32", input_quantization), "range": [0.0, 1.0],
                 "preprocessing": f"as the training images were: Pillow's convert('{mode}'), a bilinear resize to "
                                  f"{height} × {width} where the size differs, values / 255",
                 "resize": [height, width], "mode": mode}
    return {
        "classes": list(classes),
        "input": taken,
        "output": {"shape": [None, len(classes)], **tensor("float32", output_quantization),
                   "meaning": "logits; softmax gives each class's probability, in the order of classes"},
    }


def write_card(model_path: Path, card: dict[str, Any]) -> None:
    """Write the card beside the file and into its metadata (the export stage: ONNX and TensorFlow are there)."""
    text = json.dumps(card, indent=2, ensure_ascii=False)
    card_path(model_path).write_text(text + "\n")
    if model_path.suffix == ".onnx":
        import onnx

        model = onnx.load(str(model_path))
        entry = next((prop for prop in model.metadata_props if prop.key == METADATA_KEY), None) or model.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, text
        onnx.save(model, str(model_path))
    elif model_path.suffix == ".tflite":
        import numpy as np
        from tensorflow.lite.python import schema_py_generated as schema
        from tensorflow.lite.tools import flatbuffer_utils

        model = flatbuffer_utils.read_model(str(model_path))
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(text.encode(), np.uint8)
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name, entry.buffer = METADATA_KEY.encode(), len(model.buffers) - 1
        model.metadata = [*(model.metadata or []), entry]
        flatbuffer_utils.write_model(model, str(model_path))


def read_card(model_path: Path, shown: str) -> dict[str, Any]:
    """The card of an exported file: the JSON beside it, else (ONNX) its metadata; a ``ValueError`` naming ``shown``.

    A LiteRT file's own copy is for tools that read flatbuffer metadata: its runtime has no reader.
    """
    beside = card_path(model_path)
    if beside.is_file():
        try:
            return json.loads(beside.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{beside}: not a model card (not JSON: {error})") from None
    if model_path.suffix == ".onnx":
        import onnxruntime

        try:
            metadata = onnxruntime.InferenceSession(str(model_path), providers=["CPUExecutionProvider"]).get_modelmeta()
        except Exception as error:  # onnxruntime raises its own types for a file that is no model
            raise ValueError(f"{shown}: not an ONNX model ({type(error).__name__})") from None
        if METADATA_KEY in metadata.custom_metadata_map:
            return json.loads(metadata.custom_metadata_map[METADATA_KEY])
    raise ValueError(f"{shown}: no model card ({beside.name} beside it, or ONNX metadata): export it with this "
                     "project's `dvc repro`, which writes one beside each file")


class CardInput(BaseModel):
    """What a reader of a card relies on about the input (the rest of the card describes it to people)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    shape: list[PositiveInt | None] = Field(min_length=2)
    dtype: Literal["float32", "int8"]
    resize: tuple[PositiveInt, PositiveInt] | None = None  # a model of your own images: (height, width)
    mode: Literal["L", "RGB"] | None = None  # and Pillow's mode


class ModelCard(BaseModel):
    """A card as :func:`checked_card` reads it: the class names by output, and the input contract."""

    model_config = ConfigDict(extra="allow", frozen=True)
    classes: list[str] = Field(min_length=1)
    input: CardInput


def checked_card(card: Any, shown: str) -> ModelCard:
    """``card`` (what :func:`read_card` returned) as a :class:`ModelCard`; one line naming ``shown`` and the key if it is not one."""
    if not isinstance(card, dict):
        raise ValueError(f"{shown}: not a model card (a JSON mapping with classes and input, got {type(card).__name__})")
    try:
        checked = ModelCard.model_validate(card)
    except ValidationError as error:
        problem = error.errors()[0]
        raise ValueError(f"{shown}: {'.'.join(map(str, problem['loc']))}: {problem['msg']}") from None
    if (checked.input.resize is None) != (checked.input.mode is None):
        raise ValueError(f"{shown}: input: resize and mode go together (a model of your own images has both)")
    return checked
