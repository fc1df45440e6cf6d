"""The weights fingerprint: the same values under other names or order match; any other value,
dtype or shape does not; unusual tensors (strings, booleans, scalars, empty) never fail."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from grader.fingerprint import weights_hash


def _model(tensors: dict[str, np.ndarray]) -> onnx.ModelProto:
    inits = [numpy_helper.from_array(a, name) for name, a in tensors.items()]
    return helper.make_model(helper.make_graph([], "g", [], [], initializer=inits))


def test_renamed_and_reordered_weights_match_and_changed_ones_do_not() -> None:
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = np.ones(4, np.float32)
    original = weights_hash(_model({"W": w, "B": b}))
    assert weights_hash(_model({"bias": b, "kernel": w})) == original
    assert weights_hash(_model({"W": w + 1e-6, "B": b})) != original
    assert weights_hash(_model({"W": w.reshape(4, 3), "B": b})) != original
    assert weights_hash(_model({"W": w.astype(np.float64), "B": b})) != original


def test_unusual_tensors_are_hashed_and_no_weights_is_empty() -> None:
    odd = {
        "s": np.array(["cat", "dog"], dtype=object),
        "t": np.array([True, False]),
        "scalar": np.array(3.0, np.float32),
        "empty": np.zeros((0, 4), np.float32),
    }
    assert len(weights_hash(_model(odd))) == 64
    assert weights_hash(_model({})) == ""
