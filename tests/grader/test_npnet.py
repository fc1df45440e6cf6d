"""NumPy `.npz` networks: each layer converted to ONNX equals a NumPy forward pass; unsafe files refused."""

from __future__ import annotations

import io
import json
import struct
import tracemalloc
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

import grader
from grader.datasets import Dataset
from grader.errors import Rejected
from grader.npnet import npz_to_onnx, same_pads
from grader.npzsafe import open_npz
from grader.sandbox import SandboxPool
from testsupport.onnx_build import Weights

RNG = np.random.default_rng(0)


def npz_bytes(layers: list[dict[str, Any]], input_shape: list[int], **arrays: Any) -> bytes:
    spec = {"format": "podium.npnet", "version": 1, "input_shape": input_shape, "layers": layers}
    buf = io.BytesIO()
    np.savez(buf, architecture=np.array(json.dumps(spec)), **arrays)
    return buf.getvalue()


def run_onnx(data: bytes, x: np.ndarray) -> np.ndarray:
    model = npz_to_onnx(data)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(None, {"input": x})[0])


# --- NumPy reference layers (channel-last, as Keras) ---------------------------------------------


def pad_same(x: np.ndarray, k: tuple[int, int], s: tuple[int, int], value: float) -> np.ndarray:
    (pt, pb), (pl, pr) = same_pads(x.shape[1], k[0], s[0]), same_pads(x.shape[2], k[1], s[1])
    return np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=value)


def windows(x: np.ndarray, k: tuple[int, int], s: tuple[int, int]) -> tuple[int, int, Callable]:
    oh, ow = (x.shape[1] - k[0]) // s[0] + 1, (x.shape[2] - k[1]) // s[1] + 1

    def at(i: int, j: int) -> np.ndarray:
        return x[:, i : i + s[0] * (oh - 1) + 1 : s[0], j : j + s[1] * (ow - 1) + 1 : s[1], :]

    return oh, ow, at


def np_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, padding: str) -> np.ndarray:
    k, s = w.shape[:2], (stride, stride)
    if padding == "same":
        x = pad_same(x, k, s, 0.0)
    oh, ow, at = windows(x, k, s)
    out = np.zeros((x.shape[0], oh, ow, w.shape[3]), np.float64)
    for i in range(k[0]):
        for j in range(k[1]):
            out += at(i, j) @ w[i, j]
    return out + b


def np_pool(x: np.ndarray, pool: int, stride: int, padding: str, kind: str) -> np.ndarray:
    k, s = (pool, pool), (stride, stride)
    if padding == "same":
        x = pad_same(x, k, s, np.nan)  # padding never counts: not in a max, not in an average
    oh, ow, at = windows(x, k, s)
    stack = np.stack([at(i, j) for i in range(pool) for j in range(pool)])
    return np.nanmax(stack, axis=0) if kind == "max" else np.nanmean(stack, axis=0)


def np_softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def flat(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1)


IMG = [8, 8, 3]
W_CONV = RNG.normal(size=(3, 3, 3, 4)).astype(np.float32)
B_CONV = RNG.normal(size=4).astype(np.float32)
CASES: dict[str, tuple[list[dict[str, Any]], list[int], dict[str, np.ndarray], Callable]] = {
    "dense": (
        [{"type": "dense", "name": "fc"}],
        [12],
        {"fc.W": RNG.normal(size=(12, 5)), "fc.b": RNG.normal(size=5)},
        lambda x, a: x @ a["fc.W"] + a["fc.b"],
    ),
    "relu": ([{"type": "relu"}], [12], {}, lambda x, a: np.maximum(x, 0)),
    "sigmoid": ([{"type": "sigmoid"}], [12], {}, lambda x, a: 1 / (1 + np.exp(-x))),
    "tanh": ([{"type": "tanh"}], [12], {}, lambda x, a: np.tanh(x)),
    "leaky_relu": (
        [{"type": "leaky_relu", "alpha": 0.2}],
        [12],
        {},
        lambda x, a: np.where(x > 0, x, 0.2 * x),
    ),
    "leaky_relu_default_alpha": (
        [{"type": "leaky_relu"}],
        [12],
        {},
        lambda x, a: np.where(x > 0, x, 0.01 * x),
    ),
    "softmax": ([{"type": "softmax"}], [12], {}, lambda x, a: np_softmax(x)),
    "dropout": ([{"type": "dropout", "rate": 0.5}], [12], {}, lambda x, a: x),
    "batchnorm_flat": (
        [{"type": "batchnorm", "name": "bn"}],
        [12],
        {
            "bn.gamma": RNG.normal(size=12),
            "bn.beta": RNG.normal(size=12),
            "bn.mean": RNG.normal(size=12),
            "bn.var": RNG.uniform(0.5, 2, size=12),
        },
        lambda x, a: (
            (x - a["bn.mean"]) / np.sqrt(a["bn.var"] + 1e-3) * a["bn.gamma"] + a["bn.beta"]
        ),
    ),
    "normalize_flat": (
        [{"type": "normalize", "name": "nm"}],
        [12],
        {"nm.mean": RNG.normal(size=12), "nm.std": RNG.uniform(0.5, 2, size=12)},
        lambda x, a: (x - a["nm.mean"]) / a["nm.std"],
    ),
    "flatten": ([{"type": "flatten"}], IMG, {}, lambda x, a: flat(x)),
    "normalize_image": (
        [{"type": "normalize", "name": "nm"}, {"type": "flatten"}],
        IMG,
        {"nm.mean": np.array([0.1, 0.2, 0.3]), "nm.std": np.array([0.5, 1.5, 2.0])},
        lambda x, a: flat((x - a["nm.mean"]) / a["nm.std"]),
    ),
    "normalize_after_conv": (
        [{"type": "conv2d", "name": "c"}, {"type": "normalize", "name": "nm"}, {"type": "flatten"}],
        IMG,
        {"c.W": W_CONV, "c.b": B_CONV, "nm.mean": np.arange(4.0), "nm.std": np.arange(1.0, 5.0)},
        lambda x, a: flat((np_conv(x, W_CONV, B_CONV, 1, "valid") - a["nm.mean"]) / a["nm.std"]),
    ),
    "batchnorm_image": (
        [{"type": "batchnorm", "name": "bn", "epsilon": 1e-5}, {"type": "flatten"}],
        IMG,
        {
            "bn.gamma": np.array([1.0, 2, 3]),
            "bn.beta": np.array([0.5, 0, -1]),
            "bn.mean": np.array([0.1, -0.2, 0.3]),
            "bn.var": np.array([1.0, 0.5, 2]),
        },
        lambda x, a: flat(
            (x - a["bn.mean"]) / np.sqrt(a["bn.var"] + 1e-5) * a["bn.gamma"] + a["bn.beta"]
        ),
    ),
    "softmax_image": (
        [{"type": "conv2d", "name": "c"}, {"type": "softmax"}, {"type": "flatten"}],
        IMG,
        {"c.W": W_CONV, "c.b": B_CONV},
        lambda x, a: flat(np_softmax(np_conv(x, W_CONV, B_CONV, 1, "valid"))),
    ),
}
for _stride in (1, 2):
    for _pad in ("same", "valid"):
        CASES[f"conv2d_s{_stride}_{_pad}"] = (
            [
                {"type": "conv2d", "name": "c", "stride": _stride, "padding": _pad},
                {"type": "flatten"},
            ],
            IMG,
            {"c.W": W_CONV, "c.b": B_CONV},
            lambda x, a, s=_stride, p=_pad: flat(np_conv(x, W_CONV, B_CONV, s, p)),
        )
for _kind in ("max", "avg"):
    for _pool, _stride, _pad in ((2, 2, "valid"), (3, 2, "same"), (3, 1, "valid"), (2, 2, "same")):
        CASES[f"{_kind}pool2d_p{_pool}_s{_stride}_{_pad}"] = (
            [
                {"type": f"{_kind}pool2d", "pool": _pool, "stride": _stride, "padding": _pad},
                {"type": "flatten"},
            ],
            [7, 7, 3],  # odd size: "same" pads unevenly
            {},
            lambda x, a, k=_kind, pl=_pool, s=_stride, p=_pad: flat(np_pool(x, pl, s, p, k)),
        )


@pytest.mark.parametrize("case", sorted(CASES))
def test_converted_layer_equals_numpy_forward(case: str) -> None:
    layers, shape, arrays, ref = CASES[case]
    arrays = {k: np.asarray(v, np.float32) for k, v in arrays.items()}
    x = np.random.default_rng(1).normal(size=(4, *shape)).astype(np.float32)
    got = run_onnx(npz_bytes(layers, shape, **arrays), x)
    want = ref(x.astype(np.float64), {k: v.astype(np.float64) for k, v in arrays.items()})
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 1e-4


def test_keras_same_padding_at_stride_2_on_28_pixels() -> None:
    assert same_pads(28, 5, 2) == (1, 2)
    w = RNG.normal(size=(5, 5, 1, 2)).astype(np.float32)
    data = npz_bytes(
        [{"type": "conv2d", "name": "c", "stride": 2, "padding": "same"}, {"type": "flatten"}],
        [28, 28, 1],
        **{"c.W": w, "c.b": np.zeros(2, np.float32)},
    )
    conv = next(n for n in npz_to_onnx(data).graph.node if n.op_type == "Conv")
    pads = next(a.ints for a in conv.attribute if a.name == "pads")
    assert list(pads) == [1, 1, 2, 2]  # top, left, bottom, right: the smaller half first
    x = RNG.normal(size=(2, 28, 28, 1)).astype(np.float32)
    got = run_onnx(data, x)
    assert got.shape == (2, 14 * 14 * 2)
    assert np.abs(got - flat(np_conv(x.astype(np.float64), w, np.zeros(2), 2, "same"))).max() < 1e-4


def test_npz_network_grades_like_the_onnx_model(
    trained: Weights, mnist_small: Dataset, pool: SandboxPool
) -> None:
    w, b = trained
    data = npz_bytes(
        [{"type": "dense", "name": "fc"}, {"type": "softmax"}], [784], **{"fc.W": w, "fc.b": b}
    )
    info = grader.check_upload(data, "net.npz")
    assert info["format"] == "npz" and info["layout"] == "flat_hwc" and info["params"] == 7850
    r = grader.grade(data, "net.npz", mnist_small, pool=pool)
    assert r.accuracy > 0.85 and r.output_kind == "probabilities"
    assert "NumPy network converted" in r.adaptation[0]


# --- unsafe or broken .npz files -------------------------------------------------------------------


def npy_member(header: str, payload: bytes) -> bytes:
    text = header + " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode() + payload


def zip_of(**members: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(f"{name}.npy", data)
    return buf.getvalue()


def test_pickled_object_array_is_refused() -> None:
    buf = io.BytesIO()
    np.savez(buf, architecture=np.array([{"layers": []}], dtype=object))
    with pytest.raises(Rejected) as info:
        grader.check_upload(buf.getvalue(), "net.npz")
    assert info.value.code == "npz_pickle"
    assert "'architecture'" in info.value.message and "pickle" in info.value.message


def test_member_declaring_3_gib_in_a_3_mb_file_is_refused_without_allocating() -> None:
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (805306368,), }"  # 3 GiB
    data = zip_of(fc=npy_member(header, bytes(3 << 20)))
    tracemalloc.start()
    try:
        with pytest.raises(Rejected) as info:
            grader.check_upload(data, "net.npz")
        assert info.value.code == "too_large" and "'fc'" in info.value.message
        with pytest.raises(Rejected) as info:  # a limit above the claim: the size lie is caught
            open_npz(data, max_total_bytes=8 << 30)
        assert info.value.code == "npz_invalid" and "holds 3,145,728" in info.value.message
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20


@pytest.mark.parametrize("shape", ["(18446744073709551616,)", "(4294967296, 4294967296)"])
def test_header_shape_beyond_2_64_is_refused(shape: str) -> None:
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}"
    with pytest.raises(Rejected) as info:
        grader.check_upload(zip_of(fc=npy_member(header, b"\0" * 16)), "net.npz")
    assert info.value.code in ("too_large", "npz_invalid")
    assert "'fc'" in info.value.message


def test_missing_weight_names_the_array() -> None:
    data = npz_bytes(
        [{"type": "dense", "name": "fc1"}], [784], **{"fc1.W": np.zeros((784, 10), np.float32)}
    )
    with pytest.raises(Rejected) as info:
        grader.check_upload(data, "net.npz")
    assert info.value.code == "npz_invalid" and "'fc1.b'" in info.value.message


@pytest.mark.parametrize(
    ("layers", "arrays", "fragment"),
    [
        (
            [{"type": "dense", "name": "fc"}],
            {"fc.W": np.zeros((100, 10)), "fc.b": np.zeros(10)},
            "fc.W",
        ),
        (
            [{"type": "dense", "name": "fc"}],
            {"fc.W": np.zeros((784, 10)), "fc.b": np.zeros(7)},
            "'fc.b' has shape (7,)",
        ),
        (
            [{"type": "conv2d", "name": "c"}, {"type": "flatten"}],
            {"c.W": np.zeros((3, 3, 2, 4)), "c.b": np.zeros(4)},
            "c.W is (3, 3, 2, 4)",
        ),
        (
            [{"type": "batchnorm", "name": "bn"}],
            {
                "bn.gamma": np.zeros(5),
                "bn.beta": np.zeros(784),
                "bn.mean": np.zeros(784),
                "bn.var": np.ones(784),
            },
            "'bn.gamma' has shape (5,)",
        ),
        ([{"type": "conv2d", "name": "c"}], {}, "image input"),
        ([{"type": "swish"}], {}, "unknown type 'swish'"),
    ],
)
def test_wrong_shapes_and_layers_name_the_problem(
    layers: list, arrays: dict, fragment: str
) -> None:
    shape = [28, 28, 1] if "c.W" in arrays else [784]
    data = npz_bytes(layers, shape, **{k: np.asarray(v, np.float32) for k, v in arrays.items()})
    with pytest.raises(Rejected) as info:
        grader.check_upload(data, "net.npz")
    assert info.value.code == "npz_invalid"
    assert fragment in info.value.message


def test_npz_without_architecture_is_invalid() -> None:
    buf = io.BytesIO()
    np.savez(buf, W=np.zeros(3))
    with pytest.raises(Rejected) as info:
        grader.check_upload(buf.getvalue(), "net.npz")
    assert info.value.code == "npz_invalid" and "architecture" in info.value.message
