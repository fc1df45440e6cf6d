"""ONNX helpers that need only onnx, onnxruntime and numpy (usable from the main venv)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from reference.preprocess import prepare

FLOAT_TYPES = (1, 10, 11, 16)  # FLOAT, FLOAT16, DOUBLE, BFLOAT16


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def float_param_count(model: object) -> int:
    """Total elements of floating-point initializers (how the engine counts parameters)."""
    total = 0
    for init in model.graph.initializer:  # type: ignore[attr-defined]
        if init.data_type in FLOAT_TYPES:
            n = 1
            for d in init.dims:
                n *= int(d)
            total += n
    return total


def metadata(model: object) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}  # type: ignore[attr-defined]


def session(path: str | Path):  # type: ignore[no-untyped-def]
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def predict(
    path: str | Path, images: np.ndarray, preset: str, layout: str, batch: int = 1000
) -> np.ndarray:
    """Class predictions of an ONNX model on uint8 (N, H, W, C) images."""
    sess = session(path)
    name = sess.get_inputs()[0].name
    preds = []
    for i in range(0, len(images), batch):
        out = sess.run(None, {name: prepare(images[i : i + batch], preset, layout)})[0]
        preds.append(np.argmax(out, axis=1))
    return np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)


def accuracy(
    path: str | Path, images: np.ndarray, labels: np.ndarray, preset: str, layout: str
) -> float:
    return float(np.mean(predict(path, images, preset, layout) == labels))
