"""Version 2 of the `.npz` spec: each option against a NumPy forward pass written here in the
PyTorch convention (channel-first, (out, in) weights), the shape hints, the stricter keys, the
spec's preprocessing read as a file's own metadata, pickle advice, and `grader.npnet.save`."""

from __future__ import annotations

import io
import json
import pickle
import runpy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

import grader
from grader.errors import Rejected
from grader.npnet import npz_to_onnx

REPO = Path(__file__).resolve().parents[2]
RNG = np.random.default_rng(7)


def npz_v2(layers: list[Any], input_shape: list[int], **extra: Any) -> Callable[..., bytes]:
    def build(**arrays: Any) -> bytes:
        spec = {
            "format": "podium.npnet",
            "version": 2,
            "input_shape": input_shape,
            "layers": layers,
            **extra,
        }
        buf = io.BytesIO()
        members = {k: np.asarray(v, np.float32) for k, v in arrays.items()}
        np.savez(buf, architecture=np.array(json.dumps(spec)), **members)
        return buf.getvalue()

    return build


def run_onnx(data: bytes, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(
        npz_to_onnx(data).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return np.asarray(sess.run(None, {"input": x.astype(np.float32)})[0])


# --- NumPy reference, channel-first (N, C, H, W) as PyTorch -----------------------------------


def conv_nchw(
    x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: int, pad: tuple[int, int]
) -> np.ndarray:
    """w (out, in, kh, kw); zeros padded on each side, as torch.nn.Conv2d(padding=pad)."""
    x = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    kh, kw = w.shape[2:]
    oh, ow = (x.shape[2] - kh) // stride + 1, (x.shape[3] - kw) // stride + 1
    out = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
            out[:, :, i, j] = np.einsum("nchw,ochw->no", patch, w)
    return out if b is None else out + b.reshape(1, -1, 1, 1)


def pool_nchw(x: np.ndarray, k: int, stride: int, pad: int, kind: str) -> np.ndarray:
    """torch.nn.MaxPool2d / AvgPool2d(count_include_pad=True) with `pad` on each side."""
    fill = -np.inf if kind == "max" else 0.0
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=fill)
    oh, ow = (x.shape[2] - k) // stride + 1, (x.shape[3] - k) // stride + 1
    out = np.zeros((*x.shape[:2], oh, ow))
    for i in range(oh):
        for j in range(ow):
            win = x[:, :, i * stride : i * stride + k, j * stride : j * stride + k]
            out[:, :, i, j] = win.max(axis=(2, 3)) if kind == "max" else win.mean(axis=(2, 3))
    return out


def flat(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1)


def hwc(x: np.ndarray) -> np.ndarray:
    return x.transpose(0, 2, 3, 1)


W_OUT_IN = RNG.normal(size=(5, 12))
B_COL = RNG.normal(size=(5, 1))
K_OIHW = RNG.normal(size=(4, 3, 3, 3))
B_K = RNG.normal(size=4)
CHW = [3, 7, 6]  # channel-first input, not square: a swapped axis shows

# name: (layers, input shape, spec extras, arrays, reference on x as the model receives it)
CASES: dict[str, tuple[list[Any], list[int], dict[str, Any], dict[str, Any], Callable]] = {
    "dense_out_in_column_bias": (
        [{"type": "dense", "name": "fc", "weight_layout": "out_in"}],
        [12],
        {},
        {"fc.W": W_OUT_IN, "fc.b": B_COL},
        lambda x: (W_OUT_IN @ x.T + B_COL).T,  # column vectors: y = W x + b
    ),
    "dense_in_out_row_bias": (
        [{"type": "dense", "name": "fc"}],
        [12],
        {},
        {"fc.W": W_OUT_IN.T, "fc.b": B_COL.T},
        lambda x: x @ W_OUT_IN.T + B_COL.T,
    ),
    "dense_without_bias": (
        [{"type": "dense", "name": "fc", "weight_layout": "out_in", "bias": False}],
        [12],
        {},
        {"fc.W": W_OUT_IN},
        lambda x: x @ W_OUT_IN.T,
    ),
    "conv_oihw_int_padding_chw_input_chw_flatten": (
        [
            {"type": "conv2d", "name": "c", "weight_layout": "oihw", "padding": 2},
            {"type": "flatten", "order": "chw"},
        ],
        CHW,
        {"input_layout": "chw"},
        {"c.W": K_OIHW, "c.b": B_K},
        lambda x: flat(conv_nchw(x, K_OIHW, B_K, 1, (2, 2))),
    ),
    "conv_pair_padding_stride_2_hwc_flatten": (
        [
            {"type": "conv2d", "name": "c", "weight_layout": "oihw", "padding": [1, 2]},
            {"type": "flatten", "order": "hwc"},
        ],
        CHW,
        {"input_layout": "chw"},
        {"c.W": K_OIHW, "c.b": B_K.reshape(4, 1)},
        lambda x: flat(hwc(conv_nchw(x, K_OIHW, B_K, 1, (1, 2)))),
    ),
    "conv_stride_2_without_bias": (
        [
            {"type": "conv2d", "name": "c", "weight_layout": "oihw", "stride": 2, "bias": False},
            {"type": "flatten"},  # the default order follows input_layout: chw
        ],
        CHW,
        {"input_layout": "chw"},
        {"c.W": K_OIHW},
        lambda x: flat(conv_nchw(x, K_OIHW, None, 2, (0, 0))),
    ),
    "conv_hwio_channel_last_input_chw_flatten": (
        [
            {"type": "conv2d", "name": "c", "padding": 1},
            {"type": "flatten", "order": "chw"},
        ],
        [7, 6, 3],
        {},
        {"c.W": K_OIHW.transpose(2, 3, 1, 0), "c.b": B_K},
        lambda x: flat(conv_nchw(x.transpose(0, 3, 1, 2), K_OIHW, B_K, 1, (1, 1))),
    ),
    "maxpool_explicit_padding": (
        [{"type": "maxpool2d", "pool": 3, "stride": 2, "padding": 1}, {"type": "flatten"}],
        CHW,
        {"input_layout": "chw"},
        {},
        lambda x: flat(pool_nchw(x, 3, 2, 1, "max")),
    ),
    "avgpool_explicit_padding_counts_the_zeros": (
        [{"type": "avgpool2d", "pool": 2, "stride": 1, "padding": 1}, {"type": "flatten"}],
        CHW,
        {"input_layout": "chw"},
        {},
        lambda x: flat(pool_nchw(x, 2, 1, 1, "avg")),
    ),
    "dropout_scale_multiplies_by_keep_probability": (
        [
            {"type": "dense", "name": "fc", "weight_layout": "out_in"},
            {"type": "dropout", "rate": 0.3, "mode": "scale"},
        ],
        [12],
        {},
        {"fc.W": W_OUT_IN, "fc.b": B_COL},
        lambda x: (x @ W_OUT_IN.T + B_COL.T) * 0.7,
    ),
    "dropout_scale_folded_into_the_next_dense_layer": (
        [
            {"type": "dropout", "rate": 0.25, "mode": "scale"},
            {"type": "flatten"},
            {"type": "dense", "name": "fc", "weight_layout": "out_in"},
        ],
        [12],
        {},
        {"fc.W": W_OUT_IN, "fc.b": B_COL},
        lambda x: (x * 0.75) @ W_OUT_IN.T + B_COL.T,
    ),
    "dropout_scale_before_a_conv": (
        [
            {"type": "dropout", "rate": 0.5, "mode": "scale"},
            {"type": "conv2d", "name": "c", "weight_layout": "oihw"},
            {"type": "flatten"},
        ],
        CHW,
        {"input_layout": "chw"},
        {"c.W": K_OIHW, "c.b": B_K},
        lambda x: flat(conv_nchw(x * 0.5, K_OIHW, B_K, 1, (0, 0))),
    ),
    "dropout_inverted_is_the_identity": (
        [{"type": "dropout", "rate": 0.3, "mode": "inverted"}],
        [12],
        {},
        {},
        lambda x: x,
    ),
    "softmax_over_channels_first": (
        [{"type": "softmax"}, {"type": "flatten"}],
        CHW,
        {"input_layout": "chw"},
        {},
        lambda x: flat(np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_v2_option_equals_numpy_forward(case: str) -> None:
    layers, shape, extra, arrays, ref = CASES[case]
    x = np.random.default_rng(1).normal(size=(3, *shape))
    got = run_onnx(npz_v2(layers, shape, **extra)(**arrays), x)
    want = ref(x)
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 1e-4


def test_scaling_dropout_before_a_dense_layer_adds_no_parameter() -> None:
    layers = [
        {"type": "dense", "name": "fc1", "weight_layout": "out_in"},
        {"type": "relu"},
        {"type": "dropout", "rate": 0.5, "mode": "scale"},
        {"type": "dense", "name": "fc2", "weight_layout": "out_in"},
    ]
    arrays = {"fc1.W": np.zeros((32, 784)), "fc1.b": np.zeros(32)}
    arrays |= {"fc2.W": np.zeros((10, 32)), "fc2.b": np.zeros(10)}
    info = grader.check_upload(npz_v2(layers, [784])(**arrays), "net.npz")
    assert info["params"] == 784 * 32 + 32 + 32 * 10 + 10


def test_channel_first_and_flat_input_layouts_are_declared_as_metadata() -> None:
    conv = [{"type": "conv2d", "name": "c", "weight_layout": "oihw"}, {"type": "flatten"}]
    k = RNG.normal(size=(10, 1, 28, 28))  # one 28x28 window: 10 class scores
    info = grader.check_upload(
        npz_v2(conv, [1, 28, 28], input_layout="chw")(**{"c.W": k, "c.b": np.zeros(10)}), "n.npz"
    )
    assert info["layout"] == "nchw"
    dense = [{"type": "dense", "name": "fc"}]
    arrays = {"fc.W": np.zeros((3072, 10)), "fc.b": np.zeros(10)}
    build = npz_v2(dense, [3072], input_layout="chw")
    model = npz_to_onnx(build(**arrays))
    assert {p.key: p.value for p in model.metadata_props}["podium.layout"] == "flat_chw"


def test_spec_mean_std_is_read_as_the_files_own_metadata() -> None:
    build = npz_v2(
        [{"type": "dense", "name": "fc"}],
        [784],
        preprocess={"mean": [0.1307], "std": "0.3081"},
    )
    data = build(**{"fc.W": np.zeros((784, 10)), "fc.b": np.zeros(10)})
    pre = grader.check_upload(data, "net.npz")["preprocess"]
    assert pre == {
        "name": "custom",
        "mean": (0.1307,),
        "std": (0.3081,),
        "source": "model metadata",
    }
    # an upload's declaration wins over the file's, as for an ONNX file's metadata
    assert grader.check_upload(data, "net.npz", preprocess="raw")["preprocess"]["name"] == "raw"


@pytest.mark.parametrize(
    ("preprocess", "code", "fragment"),
    [
        ({"mean": [0.5]}, "npz_invalid", "both"),
        (
            {"mean": ["a"], "std": [1]},
            "bad_preprocess",
            "the spec's preprocess mean must be numbers",
        ),
        ({"mean": [0.5], "std": [0.0]}, "bad_preprocess", "std must be positive"),
        ({"mean": [0.1, 0.2, 0.3], "std": [1]}, "bad_preprocess", "mean needs 1 value"),
        ([0.5, 0.5], "npz_invalid", "'preprocess' must be a preset name"),
    ],
)
def test_bad_spec_preprocessing_is_refused(preprocess: Any, code: str, fragment: str) -> None:
    build = npz_v2([{"type": "dense", "name": "fc"}], [784], preprocess=preprocess)
    with pytest.raises(Rejected) as info:
        grader.check_upload(build(**{"fc.W": np.zeros((784, 10)), "fc.b": np.zeros(10)}), "n.npz")
    assert info.value.code == code and fragment in info.value.message


@pytest.mark.parametrize(
    ("layers", "arrays", "fragment"),
    [
        (
            [{"type": "dense", "name": "fc1"}],
            {"fc1.W": np.zeros((32, 784)), "fc1.b": np.zeros(32)},
            "(32, 784) looks transposed: declare weight_layout: out_in",
        ),
        (
            [{"type": "dense", "name": "fc1", "weight_layout": "out_in"}],
            {"fc1.W": np.zeros((784, 32)), "fc1.b": np.zeros(32)},
            "(784, 32) looks transposed: declare weight_layout: in_out",
        ),
        (
            [{"type": "dense", "name": "fc1"}],
            {"fc1.W": np.zeros((100, 10)), "fc1.b": np.zeros(10)},
            "check the flatten before it",
        ),
        (
            [{"type": "conv2d", "name": "c"}, {"type": "flatten"}],
            {"c.W": np.zeros((8, 1, 3, 3)), "c.b": np.zeros(8)},
            "declare weight_layout: oihw",
        ),
        (
            [{"type": "dense", "name": "fc1", "bias": False}],
            {"fc1.W": np.zeros((784, 10)), "fc1.b": np.zeros(10)},
            "declares bias: false but has fc1.b",
        ),
        (
            [{"type": "dense", "name": "fc1"}],
            {"fc1.W": np.zeros((784, 10)), "fc1.b": np.zeros((2, 5))},
            "'fc1.b' has shape (2, 5), expected (10,) (or (10, 1))",
        ),
        (
            [{"type": "dense", "name": "fc1", "weight_layot": "out_in"}],
            {"fc1.W": np.zeros((784, 10)), "fc1.b": np.zeros(10)},
            "unknown option(s) weight_layot; its options: bias, weight_layout",
        ),
        (
            [{"type": "conv2d", "name": "c", "padding": 300}, {"type": "flatten"}],
            {"c.W": np.zeros((3, 3, 1, 2)), "c.b": np.zeros(2)},
            "padding 300 is over 256",
        ),
        (
            [{"type": "maxpool2d", "pool": 2, "padding": 2}, {"type": "flatten"}],
            {},
            "is over half the pool",
        ),
        (
            [{"type": "dropout", "mode": "scale"}],
            {},
            "mode scale needs the drop probability 'rate'",
        ),
        (
            [{"type": "flatten", "order": "whc"}],
            {},
            "order must be hwc or chw",
        ),
    ],
)
def test_v2_mistakes_name_the_fix(layers: list, arrays: dict, fragment: str) -> None:
    shape = [28, 28, 1] if any(layer["type"] != "dense" for layer in layers) else [784]
    with pytest.raises(Rejected) as info:
        grader.check_upload(npz_v2(layers, shape)(**arrays), "net.npz")
    assert info.value.code == "npz_invalid"
    assert fragment in info.value.message


def test_version_1_keeps_unknown_keys_and_unknown_versions_are_refused() -> None:
    layers = [{"type": "dense", "name": "fc", "units": 10}]
    arrays = {"fc.W": np.zeros((784, 10)), "fc.b": np.zeros(10)}
    v1 = npz_v2(layers, [784], version=1, description="x", author="me")(**arrays)
    assert grader.check_upload(v1, "net.npz")["params"] == 7850
    for extra, fragment in (({"version": 3}, "versions 1 and 2"), ({"author": "me"}, "author")):
        with pytest.raises(Rejected) as info:
            grader.check_upload(npz_v2(layers[:1], [784], **extra)(**arrays), "net.npz")
        assert info.value.code == "npz_invalid" and fragment in info.value.message


# --- pickles: refused, with how to re-save ---------------------------------------------------------


def pickled_files() -> dict[str, bytes]:
    weights = [np.zeros((784, 10)), np.zeros(10)]
    npy_list = io.BytesIO()
    np.save(npy_list, np.array(weights, dtype=object), allow_pickle=True)
    return {
        "np.save of a list": npy_list.getvalue(),
        "pickle.dump of a dict": pickle.dumps({"W1": weights[0], "b1": weights[1]}),
    }


def npz_of_objects() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, weights=np.array([np.zeros((784, 10)), np.zeros(10)], dtype=object))
    return buf.getvalue()


# A pickle or a bare .npy is recognised whatever its name; a zip named .onnx is read as ONNX.
@pytest.mark.parametrize(
    ("kind", "filename"),
    [(k, f) for k in sorted(pickled_files()) for f in ("net.npz", "net.onnx")]
    + [("np.savez of an object array", "net.npz")],
)
def test_pickles_are_refused_saying_how_to_resave(kind: str, filename: str) -> None:
    data = pickled_files().get(kind) or npz_of_objects()
    with pytest.raises(Rejected) as info:
        grader.check_upload(data, filename)
    assert info.value.code == "npz_pickle"
    assert "np.savez('net.npz', architecture=np.array(json.dumps(spec)), **arrays)" in (
        info.value.message
    )
    assert "arrays = {'fc1.W': W1" in info.value.message


# --- grader.npnet.save -------------------------------------------------------------------------------


def test_save_writes_a_pytorch_style_cnn_that_equals_numpy(tmp_path: Path) -> None:
    k1, b1 = RNG.normal(size=(4, 3, 3, 3)), RNG.normal(size=(4, 1))
    w2 = RNG.normal(size=(5, 4 * 4 * 3))
    path = tmp_path / "cnn.npz"
    spec = grader.npnet.save(
        path,
        [
            ("conv2d", k1, b1, {"padding": 1}),
            "relu",
            ("maxpool2d", {"pool": 2}),
            ("dropout", {"rate": 0.5, "mode": "scale"}),
            "flatten",
            ("dense", w2, None),
            "softmax",
        ],
        input_shape=[3, 8, 6],
        input_layout="chw",
        preprocess=([0.5, 0.4, 0.3], [0.2, 0.2, 0.2]),
        weight_layout="out_in",
    )
    assert spec["version"] == 2
    assert spec["layers"][0] == {
        "type": "conv2d",
        "name": "conv1",
        "padding": 1,
        "weight_layout": "oihw",
    }
    assert spec["layers"][5] == {
        "type": "dense",
        "name": "fc1",
        "bias": False,
        "weight_layout": "out_in",
    }
    x = np.random.default_rng(2).normal(size=(3, 3, 8, 6))
    h = np.maximum(conv_nchw(x, k1, b1[:, 0], 1, (1, 1)), 0)
    z = flat(pool_nchw(h, 2, 2, 0, "max") * 0.5) @ w2.T
    want = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert np.abs(run_onnx(path.read_bytes(), x) - want).max() < 1e-4
    meta = {p.key: p.value for p in npz_to_onnx(path.read_bytes()).metadata_props}
    assert meta["podium.mean"] == "0.5,0.4,0.3" and meta["podium.layout"] == "nchw"


def test_save_reports_a_mistake_with_the_graders_message_and_writes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mlp.npz"
    with pytest.raises(Rejected) as info:
        grader.npnet.save(
            path, [("dense", np.zeros((32, 784)), np.zeros(32)), "relu"], input_shape=[784]
        )
    assert "declare weight_layout: out_in" in info.value.message
    assert not path.exists()
    with pytest.raises(TypeError, match="a batchnorm layer takes the arrays gamma, beta"):
        grader.npnet.save(path, [("batchnorm", np.ones(3))], input_shape=[3])


def test_save_needs_numpy_only_and_the_sandbox_child_still_never_loads_npnet() -> None:
    code = (
        "import io, sys, numpy as np, grader\n"
        "grader.npnet.save(io.BytesIO(), [('dense', np.zeros((10, 784)), np.zeros((10, 1)))],"
        " input_shape=[784], weight_layout='out_in', check=False)\n"
        "print('onnx' in sys.modules, 'grader.npnet_layers' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"], out.stderr


def test_the_readmes_numpy_examples_run_and_both_ways_write_the_same_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (REPO / "README.md").read_text()
    section = text[text.index("## NumPy networks") : text.index("## Using the site")]
    blocks = [b.split("```")[0] for b in section.split("```python\n")[1:]]
    assert len(blocks) == 4  # the MLP and the CNN, each with the helper and by hand
    scripts = []
    for i, block in enumerate(blocks):
        scripts.append(tmp_path / f"block{i}.py")
        # the by-hand CNN continues the CNN's helper block, which imported save but not json
        scripts[-1].write_text(
            "import json\nimport numpy as np\nfrom grader.npnet import save\n" + block
        )
    r = np.random.default_rng(0)
    names: dict[str, Any] = {
        "W1": r.normal(size=(32, 784)),
        "b1": r.normal(size=(32, 1)),
        "W2": r.normal(size=(10, 32)),
        "b2": r.normal(size=(10, 1)),
        "K1": r.normal(size=(8, 1, 3, 3)),
        "W3": r.normal(size=(10, 8 * 14 * 14)),
        "b3": r.normal(size=10),
    }
    monkeypatch.chdir(tmp_path)
    for first, name, x in ((0, "my_mlp.npz", (2, 784)), (2, "my_cnn.npz", (2, 1, 28, 28))):
        if first == 2:
            names["b1"] = r.normal(size=8)
        runpy.run_path(str(scripts[first]), init_globals=names)
        with_helper = (tmp_path / name).read_bytes()
        runpy.run_path(str(scripts[first + 1]), init_globals=names)
        by_hand = (tmp_path / name).read_bytes()
        inputs = r.normal(size=x)
        assert np.abs(run_onnx(with_helper, inputs) - run_onnx(by_hand, inputs)).max() == 0


# --- the diagnosis tries the model's other readings (prepared.Variant) -----------------------------


def _plan() -> Any:
    from grader.adapt import plan_input

    return plan_input([None, 784], "float32", (28, 28, 1))


def test_a_variant_that_fixes_a_near_chance_score_is_named_instead_of_is_it_trained() -> None:
    from grader.diagnose import Candidate, diagnose, variant_candidates
    from grader.prepared import Variant
    from grader.types import Preprocess

    pre = Preprocess("unit", (0.0,), (1.0,))
    declared = Candidate(pre, _plan(), "unit")
    ran: list[str] = []

    def run(cand: Candidate, lo: int, hi: int) -> float:
        if cand.model_bytes:
            ran.append("variant")
            return 0.97 if cand.model_bytes == b"chw" else 0.12
        return 0.1

    fixing = variant_candidates(
        declared, [Variant("flatten order chw", 'declare "order": "chw"', b"chw")]
    )
    acc, text = diagnose(run, declared, fixing, 256)
    assert acc == 0.1 and ran and set(ran) == {"variant"}
    assert text is not None and "97% with flatten order chw" in text
    assert 'Declare "order": "chw", and resubmit.' in text and "is it trained" not in text
    # a variant no better leaves the diagnosis as it was
    no_better = variant_candidates(declared, [Variant("x", "y", b"other")])
    _, text = diagnose(run, declared, no_better, 256)
    assert text is not None and "is it trained" in text
