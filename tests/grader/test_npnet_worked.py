"""Worked examples: committed baselines' weights rewritten the way from-scratch NumPy code and
PyTorch store them, saved as `.npz` networks and graded end to end with `python -m grader check`
on the bundled MNIST test set. Each must score exactly what the baseline's ONNX file scores.

The baselines (reference/models/) are PyTorch exports: weights (out, in), kernels (out, in, kh,
kw), channel-first input, H, W, C flatten (a Transpose before the Reshape). Each example converts
them into one style; nothing is trained here.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import grader

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "reference" / "models"


def weights(name: str) -> dict[str, np.ndarray]:
    graph = onnx.load(MODELS / f"{name}.onnx").graph
    return {t.name: numpy_helper.to_array(t).astype(np.float32) for t in graph.initializer}


def check(path: Path, *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "grader", "check", str(path), "--json", "--cpu", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, Any] = json.loads(out.stdout)
    return result


@cache
def baseline(name: str) -> dict[str, Any]:
    return check(MODELS / f"{name}.onnx")


def assert_scores_like(result: dict[str, Any], name: str) -> None:
    want = baseline(name)
    assert result["n_images"] == want["n_images"] == 10_000
    assert result["accuracy"] == want["accuracy"]
    assert result["scores"]["log_loss"] == pytest.approx(want["scores"]["log_loss"], abs=1e-4)
    assert result["params"] == want["params"]


def write_npz(path: Path, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> Path:
    buf = io.BytesIO()
    np.savez(buf, architecture=np.array(json.dumps(spec)), **arrays)
    path.write_bytes(buf.getvalue())
    return path


def hwc_columns_to_chw(w: np.ndarray, h: int, wd: int, c: int) -> np.ndarray:
    """A dense weight (out, H*W*C) reordered for a C, H, W flatten: the same function."""
    return w.reshape(len(w), h, wd, c).transpose(0, 3, 1, 2).reshape(len(w), -1)


def test_pytorch_style_mlp_with_column_biases_scaling_dropout_and_spec_mean_std(
    tmp_path: Path,
) -> None:
    """y = W @ x + b with W (out, in) and b (out, 1); dropout that did not rescale while training
    (so the next layer's weights are 1/keep larger and test time multiplies by keep); MNIST's
    mean/std written in the spec rather than declared on upload."""
    a = weights("mnist_mlp_50")
    keep = 0.5
    spec = {
        "format": "podium.npnet",
        "version": 2,
        "input_shape": [784],
        "preprocess": {"mean": [0.1307], "std": [0.3081]},
        "layers": [
            {"type": "dense", "name": "fc1", "weight_layout": "out_in"},
            {"type": "relu"},
            {"type": "dropout", "rate": 1 - keep, "mode": "scale"},
            {"type": "dense", "name": "fc2", "weight_layout": "out_in"},
            {"type": "softmax"},
        ],
    }
    arrays = {
        "fc1.W": a["inner.0.weight"],
        "fc1.b": a["inner.0.bias"].reshape(-1, 1),
        "fc2.W": a["inner.2.weight"] / np.float32(keep),
        "fc2.b": a["inner.2.bias"].reshape(-1, 1),
    }
    result = check(write_npz(tmp_path / "mlp.npz", spec, arrays))
    assert result["preprocess"]["name"] == "custom"
    assert result["preprocess"]["source"] == "model metadata"
    assert_scores_like(result, "mnist_mlp_50")


def lenet_arrays(*, conv1_bias: bool) -> dict[str, np.ndarray]:
    a = weights("mnist_lenet_small")
    arrays = {
        "conv1.W": a["1.weight"],
        "conv2.W": a["4.weight"],
        "conv2.b": a["4.bias"].reshape(-1, 1),
        "fc1.W": hwc_columns_to_chw(a["8.weight"], 5, 5, 5),
        "fc1.b": a["8.bias"],
        "fc2.W": a["10.weight"],
        "fc2.b": a["10.bias"],
    }
    if conv1_bias:
        arrays["conv1.b"] = a["1.bias"]
    else:  # Conv2d(bias=False) then BatchNorm, as in many CNNs: here BN adds the bias exactly
        n = len(a["1.bias"])
        arrays |= {
            "bn1.gamma": np.ones(n, np.float32),
            "bn1.beta": a["1.bias"],
            "bn1.mean": np.zeros(n, np.float32),
            "bn1.var": np.ones(n, np.float32),
        }
    return arrays


def test_channel_first_cnn_with_oihw_kernels_chw_flatten_and_conv_without_bias(
    tmp_path: Path,
) -> None:
    spec = {
        "format": "podium.npnet",
        "version": 2,
        "input_shape": [1, 28, 28],
        "input_layout": "chw",
        "preprocess": "mnist",
        "layers": [
            {"type": "conv2d", "name": "conv1", "weight_layout": "oihw", "bias": False},
            {"type": "batchnorm", "name": "bn1", "epsilon": 0},
            {"type": "relu"},
            {"type": "maxpool2d", "pool": 2},
            {"type": "conv2d", "name": "conv2", "weight_layout": "oihw"},
            {"type": "relu"},
            {"type": "maxpool2d", "pool": 2},
            {"type": "flatten", "order": "chw"},
            {"type": "dense", "name": "fc1", "weight_layout": "out_in"},
            {"type": "relu"},
            {"type": "dense", "name": "fc2", "weight_layout": "out_in"},
        ],
    }
    result = check(write_npz(tmp_path / "cnn.npz", spec, lenet_arrays(conv1_bias=False)))
    assert result["layout"] == "nchw"
    want = baseline("mnist_lenet_small")
    assert result["accuracy"] == want["accuracy"]
    assert result["scores"]["log_loss"] == pytest.approx(want["scores"]["log_loss"], abs=1e-4)
    assert result["params"] == want["params"] + 3 * 10  # BN's gamma, mean and var


def test_the_same_cnn_written_with_the_save_helper(tmp_path: Path) -> None:
    a = lenet_arrays(conv1_bias=True)
    path = tmp_path / "cnn.npz"
    grader.npnet.save(
        path,
        [
            ("conv2d", a["conv1.W"], a["conv1.b"]),
            "relu",
            "maxpool2d",
            ("conv2d", a["conv2.W"], a["conv2.b"]),
            "relu",
            "maxpool2d",
            "flatten",  # C, H, W: the input_layout's order
            ("dense", a["fc1.W"], a["fc1.b"]),
            "relu",
            ("dense", a["fc2.W"], a["fc2.b"]),
        ],
        input_shape=[1, 28, 28],
        input_layout="chw",
        preprocess="mnist",
        weight_layout="out_in",
    )
    assert_scores_like(check(path), "mnist_lenet_small")


def test_deep_cnn_with_integer_padding_and_same_padding_at_stride_2(tmp_path: Path) -> None:
    """Conv2d(padding=2) on a 5x5 kernel, and TensorFlow-style "same" (1 before, 2 after) at
    stride 2; the flatten is H, W, C as the baseline's Transpose makes it."""
    a = weights("mnist_cnn_deep")
    path = tmp_path / "deep.npz"
    grader.npnet.save(
        path,
        [
            ("conv2d", a["0.conv.weight"], a["0.conv.bias"], {"stride": 2, "padding": "same"}),
            "relu",
            ("conv2d", a["2.conv.weight"], a["2.conv.bias"], {"stride": 2, "padding": "same"}),
            "relu",
            ("conv2d", a["4.conv.weight"], a["4.conv.bias"], {"padding": 2}),
            "relu",
            ("dropout", {"rate": 0.5}),
            ("flatten", {"order": "hwc"}),
            ("dense", a["8.weight"], a["8.bias"]),
            "relu",
            ("dropout", {"rate": 0.5}),
            ("dense", a["11.weight"], a["11.bias"]),
        ],
        input_shape=[1, 28, 28],
        input_layout="chw",
        preprocess="mnist",
        weight_layout="out_in",
    )
    assert_scores_like(check(path), "mnist_cnn_deep")


def test_a_cnn_flattened_channel_first_but_declared_channel_last_is_told_the_order(
    tmp_path: Path,
) -> None:
    """The worst case found in real repositories: a version 1 spec (kernels as Keras stores
    them), whose dense weights expect a C, H, W flatten. Accepted, near chance, and the diagnosis
    names the flatten order instead of asking whether the model is trained."""
    a = lenet_arrays(conv1_bias=True)
    spec = {
        "format": "podium.npnet",
        "version": 1,
        "input_shape": [28, 28, 1],
        "preprocess": "mnist",
        "layers": [
            {"type": "conv2d", "name": "conv1"},
            {"type": "relu"},
            {"type": "maxpool2d"},
            {"type": "conv2d", "name": "conv2"},
            {"type": "relu"},
            {"type": "maxpool2d"},
            {"type": "flatten"},
            {"type": "dense", "name": "fc1"},
            {"type": "relu"},
            {"type": "dense", "name": "fc2"},
        ],
    }
    arrays = {
        "conv1.W": a["conv1.W"].transpose(2, 3, 1, 0),
        "conv1.b": a["conv1.b"],
        "conv2.W": a["conv2.W"].transpose(2, 3, 1, 0),
        "conv2.b": a["conv2.b"].ravel(),
        "fc1.W": a["fc1.W"].T,
        "fc1.b": a["fc1.b"],
        "fc2.W": a["fc2.W"].T,
        "fc2.b": a["fc2.b"],
    }
    result = check(write_npz(tmp_path / "cnn.npz", spec, arrays))
    assert result["accuracy"] < 0.5
    diagnosis = result["diagnosis"] or ""
    assert "flatten order chw" in diagnosis and '"order": "chw"' in diagnosis, diagnosis
    assert "is it trained" not in diagnosis
    fixed = {**spec, "layers": [*spec["layers"][:6], {"type": "flatten", "order": "chw"}]}
    fixed["layers"] += spec["layers"][7:]
    assert_scores_like(check(write_npz(tmp_path / "fixed.npz", fixed, arrays)), "mnist_lenet_small")
