"""Issue 2's acceptance check: `python -m grader check` on the real MNIST test set scores real
PyTorch exports (fixed batch of 1, channel-last, flat input) and a NumPy .npz MLP exactly as a
plain onnxruntime (or NumPy) loop with the same preprocessing does, to 4 decimals.

The models come from tests/fixtures/make_torch_models.py (PyTorch 2.13, legacy exporter).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.datasets import load_dataset

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "tests" / "fixtures" / "models"
MNIST = REPO / "data" / "mnist"


@pytest.fixture(scope="module")
def mnist():
    return load_dataset(MNIST)


def _cli(model: Path, *args: str) -> dict:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "check",
            str(model),
            "--data",
            str(MNIST),
            "--json",
            *args,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _plain_onnxruntime(model: Path, x: np.ndarray, batch: int | None) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    step = batch or 500
    out = [sess.run(None, {name: x[i : i + step]})[0] for i in range(0, len(x), step)]
    return np.concatenate(out).argmax(axis=1)


def _pixels(ds, mean: float, std: float) -> np.ndarray:
    return ((ds.images.astype(np.float32) / np.float32(255.0) - mean) / std).astype(np.float32)


def test_pytorch_export_with_fixed_batch_of_one_scores_like_a_plain_loop(mnist):
    got = _cli(MODELS / "torch_cnn_batch1.onnx", "--preprocess", "mnist")
    x = _pixels(mnist, 0.1307, 0.3081).transpose(0, 3, 1, 2).copy()
    plain = float(
        (_plain_onnxruntime(MODELS / "torch_cnn_batch1.onnx", x, 1) == mnist.labels).mean()
    )
    assert got["batch_mode"] == "fixed" and got["layout"] == "nchw"
    assert round(got["accuracy"], 4) == round(plain, 4)
    assert got["accuracy"] > 0.9


def test_channel_last_export_scores_like_a_plain_loop(mnist):
    got = _cli(MODELS / "torch_cnn_nhwc.onnx")
    plain = float(
        (
            _plain_onnxruntime(MODELS / "torch_cnn_nhwc.onnx", _pixels(mnist, 0, 1), None)
            == mnist.labels
        ).mean()
    )
    assert got["layout"] == "nhwc" and got["preprocess"]["name"] == "unit"
    assert round(got["accuracy"], 4) == round(plain, 4)
    assert got["accuracy"] > 0.9


def test_flat_input_export_on_raw_pixels_scores_like_a_plain_loop(mnist):
    got = _cli(MODELS / "torch_mlp_flat.onnx", "--preprocess", "raw")
    x = mnist.images.reshape(len(mnist), -1).astype(np.float32)
    plain = float(
        (_plain_onnxruntime(MODELS / "torch_mlp_flat.onnx", x, None) == mnist.labels).mean()
    )
    assert got["layout"] == "flat_hwc"
    assert round(got["accuracy"], 4) == round(plain, 4)
    assert got["accuracy"] > 0.9


def test_numpy_npz_mlp_scores_like_a_numpy_forward_pass(mnist):
    got = _cli(MODELS / "numpy_mlp_small.npz")
    with np.load(MODELS / "numpy_mlp_small.npz", allow_pickle=False) as z:
        x = mnist.images.reshape(len(mnist), -1).astype(np.float32) / np.float32(255.0)
        h = np.maximum(x @ z["fc1.W"] + z["fc1.b"], 0)
        pred = (h @ z["fc2.W"] + z["fc2.b"]).argmax(axis=1)
    assert round(got["accuracy"], 4) == round(float((pred == mnist.labels).mean()), 4)
    assert got["accuracy"] > 0.9


def test_raw_pixel_model_declared_as_unit_gets_a_diagnosis():
    got = _cli(MODELS / "torch_mlp_flat.onnx")  # trained on 0..255, declared nothing: [0,1] fed
    assert got["diagnosis"] and "0..255" in got["diagnosis"]
