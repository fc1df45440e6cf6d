"""What every fixture group shares: where files go, what is recorded, the MNIST files."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import keras
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "grader" / "keras_fixtures"
L = keras.layers
MANIFEST: dict[str, dict[str, Any]] = {}
EXPECTED: dict[str, np.ndarray] = {}
RNG = np.random.default_rng(0)


def mnist_data(split: str) -> tuple[np.ndarray, np.ndarray]:
    prefix = "train" if split == "train" else "t10k"
    d = ROOT / "data" / "mnist"
    with gzip.open(d / f"{prefix}-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)
    with gzip.open(d / f"{prefix}-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return x, y


def record(name: str, model: Any, x: np.ndarray, *, origin: str, covers: list[str]) -> None:
    y = np.asarray(model.predict(x, verbose=0))
    assert np.isfinite(y).all(), f"{name}: Keras's outputs are not finite"
    EXPECTED[f"{name}.x"] = np.asarray(x, dtype=np.float32)
    EXPECTED[f"{name}.y"] = y.astype(np.float32)
    MANIFEST[name] = {
        "origin": origin,
        "covers": covers,
        "params": int(model.count_params()),
    }


def save(model: Any, name: str) -> Path:
    path = OUT / name
    model.save(path)
    return path


def perturb(model: Any) -> None:
    """Random weights everywhere (BatchNorm statistics too), so every parameter matters."""
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        new = [RNG.normal(0, 0.3, w.shape).astype(w.dtype) for w in ws]
        if type(layer).__name__ == "BatchNormalization":  # Keras 3's or TF-Keras's
            n = len(new)
            new[n - 1] = np.abs(new[n - 1]) + 0.5  # moving variance > 0
        layer.set_weights(new)
