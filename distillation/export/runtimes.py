"""The exported files in their own runtimes (onnxruntime, LiteRT's interpreter), without Keras or TensorFlow.

What a device or a user with only a runtime installed runs: the export stage measures through
these, and ``scripts.predict`` serves a file through them.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

RUNTIMES = {"onnx": "onnxruntime", "litert": "ai-edge-litert", "litert_int8": "ai-edge-litert"}
PREDICTION_BATCH = 256


class OnnxRunner:
    """An onnxruntime session on CPU with ``threads`` intra-op threads."""

    def __init__(self, path: Path, threads: int):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def contract(self) -> tuple[list[int | None], str, int | None]:
        """The input's shape (None for a free size), its dtype, and the number of outputs per image."""
        given, output = self.session.get_inputs()[0], self.session.get_outputs()[0]
        dtype = {"tensor(float)": "float32", "tensor(int8)": "int8"}.get(given.type, given.type)
        return ([size if isinstance(size, int) else None for size in given.shape], dtype,
                output.shape[-1] if output.shape and isinstance(output.shape[-1], int) else None)

    def forward(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch})[0]


class LiteRTRunner:
    """LiteRT's interpreter; int8 files quantize the input and dequantize the logits as a device would."""

    def __init__(self, path: Path, threads: int):
        from ai_edge_litert.interpreter import Interpreter

        self.path, self.threads = path, threads
        self.interpreters: dict[int, Any] = {}
        probe = Interpreter(model_path=str(path), num_threads=threads)
        self.input_detail, self.output_detail = probe.get_input_details()[0], probe.get_output_details()[0]

    def contract(self) -> tuple[list[int | None], str, int | None]:
        """The input's shape (None for a free size), its dtype, and the number of outputs per image."""
        return ([None, *map(int, self.input_detail["shape"][1:])], np.dtype(self.input_detail["dtype"]).name,
                int(self.output_detail["shape"][-1]))

    def _interpreter(self, batch_size: int) -> Any:
        if batch_size not in self.interpreters:  # one per batch size, so timing never re-allocates
            from ai_edge_litert.interpreter import Interpreter

            interpreter = Interpreter(model_path=str(self.path), num_threads=self.threads)
            interpreter.resize_tensor_input(self.input_detail["index"], [batch_size, *self.input_detail["shape"][1:]])
            interpreter.allocate_tensors()
            self.interpreters[batch_size] = interpreter
        return self.interpreters[batch_size]

    def forward(self, batch: np.ndarray) -> np.ndarray:
        interpreter = self._interpreter(len(batch))
        if self.input_detail["dtype"] == np.int8:
            scale, zero_point = self.input_detail["quantization"]
            batch = np.clip(np.round(batch / scale) + zero_point, -128, 127).astype(np.int8)
        interpreter.set_tensor(self.input_detail["index"], batch)
        interpreter.invoke()
        output = interpreter.get_tensor(self.output_detail["index"])
        if self.output_detail["dtype"] == np.int8:
            scale, zero_point = self.output_detail["quantization"]
            output = (output.astype(np.float32) - zero_point) * scale
        return output


def runner_for(kind: str, path: Path, threads: int) -> OnnxRunner | LiteRTRunner:
    return OnnxRunner(path, threads) if kind == "onnx" else LiteRTRunner(path, threads)


def missing_runtime(kind: str) -> str | None:
    """Why ``kind`` cannot be measured here (its runtime is not installed), or None."""
    module = "onnxruntime" if kind == "onnx" else "ai_edge_litert"
    try:
        __import__(module)
    except ImportError:
        return f"{RUNTIMES[kind]} is not installed (it has no wheel for this platform)"
    return None


def predict_in_batches(forward: Callable[[np.ndarray], np.ndarray], images: np.ndarray,
                       batch_size: int = PREDICTION_BATCH) -> np.ndarray:
    """Logits for every image, in fixed-size batches (the last one padded), as a server would."""
    outputs = []
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        padded = np.concatenate([batch, np.zeros((batch_size - len(batch), *batch.shape[1:]), batch.dtype)]) \
            if len(batch) < batch_size else batch
        outputs.append(np.asarray(forward(np.ascontiguousarray(padded, dtype=np.float32)))[:len(batch)])
    return np.concatenate(outputs).astype(np.float32)
