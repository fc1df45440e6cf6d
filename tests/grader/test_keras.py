"""Keras files (`.keras`, `.h5`) converted to ONNX without TensorFlow: the converted model
predicts what Keras itself predicted, in every format variant; what cannot be converted is
refused with the reason.

The fixtures (tests/grader/keras_fixtures) were written by real Keras, or rewritten with h5py
from a real file where no installable Keras writes that layout any more; `manifest.json` says
which for each (`make keras-fixtures`, reference/keras_fixtures/)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from grader.efficiency import count_params
from grader.errors import Rejected
from grader.keras import keras_to_onnx
from grader.prepare import prepare

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "keras_fixtures"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())["files"]
COURSE = json.loads((FIXTURES / "course" / "params.json").read_text())
CAP = 64 << 20
# Keras counts an adapted Normalization's `count` (how many samples adapt() saw) as a parameter;
# it takes no part in the computation, so the ONNX graph has no such number.
NOT_COMPUTED = {"preprocessing.keras": 1}


def convert(data: bytes) -> tuple[onnx.ModelProto, list[str]]:
    return keras_to_onnx(data, max_weight_bytes=CAP)


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {session.get_inputs()[0].name: x})[0])


def refusal(data: bytes) -> Rejected:
    with pytest.raises(Rejected) as info:
        convert(data)
    return info.value


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_converted_model_predicts_what_keras_predicted(name: str) -> None:
    expected = np.load(FIXTURES / "expected.npz")
    x, y = expected[f"{name}.x"], expected[f"{name}.y"]
    model, _ = convert((FIXTURES / name).read_bytes())
    got = run(model, x)
    assert got.shape == y.shape
    assert np.abs(got - y).max() < 1e-4
    assert (got.argmax(-1) == y.argmax(-1)).all()
    keras_params = MANIFEST[name]["params"] - NOT_COMPUTED.get(name, 0)
    assert count_params(model) == keras_params


@pytest.mark.parametrize("name", sorted(COURSE))
def test_course_models_have_the_keras_summary_parameter_count(name: str) -> None:
    model, _ = convert((FIXTURES / "course" / f"{name}.keras").read_bytes())
    assert count_params(model) == COURSE[name]


def test_cifar10_cnn_counts_1345066_parameters_as_keras_does() -> None:
    model, _ = convert((FIXTURES / "course" / "cifar10_cnn_bn.keras").read_bytes())
    assert count_params(model) == 1_345_066


def test_format_variants_cover_the_surveyed_layouts() -> None:
    """Each layout the issue lists is among the fixtures, and the h5py rewrites say so."""
    origins = {name: MANIFEST[name]["origin"] for name in MANIFEST}
    assert origins["mnist_k3.keras"].startswith("real: Keras 3")
    assert origins["mnist_tfkeras.keras"].startswith("real: TF-Keras 2")
    assert origins["mnist_tfkeras.h5"].startswith("real: TF-Keras 2")
    assert "legacy HDF5" in origins["mnist_k3_legacy.h5"]
    for rewritten in ("mnist_windows.keras", "mnist_ckptdeps.keras", "mnist_keras22.h5"):
        assert origins[rewritten].startswith("rewritten by h5py")
    assert (FIXTURES / "mnist_h5_named.keras").read_bytes().startswith(b"\x89HDF")
    tf_config = json.loads(zipfile.ZipFile(FIXTURES / "mnist_tfkeras.keras").read("config.json"))
    assert "batch_input_shape" in json.dumps(tf_config)
    with h5py.File(FIXTURES / "mnist_keras22.h5") as f:
        config = json.loads(f.attrs["model_config"])
        assert all(layer["class_name"] != "InputLayer" for layer in config["config"]["layers"])


def test_the_layout_is_read_from_the_content_not_the_name() -> None:
    zipped = (FIXTURES / "mnist_k3.keras").read_bytes()
    hdf5 = (FIXTURES / "mnist_k3_legacy.h5").read_bytes()
    a, _ = prepare(zipped, "model.h5", image_shape=(28, 28, 1), n_classes=10)
    b, _ = prepare(hdf5, "model.keras", image_shape=(28, 28, 1), n_classes=10)
    assert (
        a.fmt == b.fmt == "keras" and a.params == b.params == MANIFEST["mnist_k3.keras"]["params"]
    )
    assert ".keras zip" in a.notes[0] and "HDF5" in b.notes[0]


def test_a_model_that_rescales_its_input_is_fed_raw_pixels_and_told_so() -> None:
    prep, _ = prepare(
        (FIXTURES / "mnist_k3.keras").read_bytes(),
        "model.keras",
        image_shape=(28, 28, 1),
        n_classes=10,
    )
    assert prep.preprocess.name == "raw" and prep.preprocess.source == "model metadata"
    assert any("Rescaling(scale=0.00392157)" in n and "raw 0..255" in n for n in prep.notes)
    declared, _ = prepare(
        (FIXTURES / "mnist_k3.keras").read_bytes(),
        "model.keras",
        image_shape=(28, 28, 1),
        n_classes=10,
        preprocess_name="unit",
    )
    assert declared.preprocess.name == "unit"  # what the student declares still wins


def test_channels_first_models_are_fed_nchw() -> None:
    prep, _ = prepare(
        (FIXTURES / "course" / "mnist_cnn_shallow.keras").read_bytes(),
        "model.keras",
        image_shape=(28, 28, 1),
        n_classes=10,
    )
    assert prep.plan.layout == "nchw"


@pytest.mark.parametrize(
    ("name", "layout", "batch"),
    [("input_28x28.keras", "nhw", "dynamic"), ("fixed_batch.keras", "flat_hwc", "fixed")],
)
def test_surveyed_input_shapes_are_fed_as_declared(name: str, layout: str, batch: str) -> None:
    prep, _ = prepare((FIXTURES / name).read_bytes(), name, image_shape=(28, 28, 1), n_classes=10)
    assert prep.plan.layout == layout and prep.plan.batch_mode == batch


def test_layer_names_are_the_node_names() -> None:
    model, _ = convert((FIXTURES / "convs.keras").read_bytes())
    names = {n.name for n in model.graph.node}
    config = json.loads(zipfile.ZipFile(FIXTURES / "convs.keras").read("config.json"))
    layers = [entry["config"]["name"] for entry in config["config"]["layers"]]
    assert [n for n in layers if n.startswith(("conv2d", "dense", "batch_norm"))]
    for layer in layers:
        if layer.startswith(("conv2d", "dense", "separable", "depthwise")):
            assert layer in names


def test_no_tensorflow_or_keras_is_imported() -> None:
    convert((FIXTURES / "convs.keras").read_bytes())
    assert not {"tensorflow", "keras", "tf_keras"} & set(sys.modules)


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code", "words"),
    [
        ("lambda.keras", "keras_unsupported", ["Lambda", "Python code"]),
        ("custom_layer.keras", "keras_unsupported", ["custom class", "Course>Scale"]),
        ("subclassed.keras", "keras_unsupported", ["subclassed", "Course>TinyNet"]),
        ("two_inputs.keras", "keras_unsupported", ["2 inputs"]),
        ("two_outputs.keras", "keras_unsupported", ["2 outputs"]),
        ("lstm.keras", "keras_unsupported", ["layer 2 'lstm'", "'LSTM' is not supported"]),
        ("nested_weights.keras", "keras_unsupported", ["'inner' is a model nested", "weights"]),
        (
            "weights_only.weights.h5",
            "keras_weights_only",
            ["architecture is missing", "model.save"],
        ),
        ("zip_slip.keras", "keras_invalid", ["outside its root", "../../evil.txt"]),
    ],
)
def test_refused_with_the_reason(name: str, code: str, words: list[str]) -> None:
    e = refusal((FIXTURES / "refused" / name).read_bytes())
    assert e.code == code
    for w in words:
        assert w in e.message


def test_neither_zip_nor_hdf5_is_refused() -> None:
    assert refusal(b"not a keras file at all").code == "keras_invalid"


def _zip_with(config: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("config.json", config)
        for k, v in (extra or {}).items():
            z.writestr(k, v)
    return buf.getvalue()


def test_deeply_nested_config_is_refused_before_parsing() -> None:
    e = refusal(_zip_with(b"[" * 5000 + b"]" * 5000))
    assert e.code == "keras_invalid" and "deeper" in e.message


def test_a_malformed_config_is_refused_as_invalid() -> None:
    history = {"class_name": "__keras_tensor__", "config": {"keras_history": ["a", "x", 0]}}
    config = {
        "class_name": "Functional",
        "config": {
            "layers": [
                {"class_name": "InputLayer", "name": "a", "config": {"batch_shape": [None, 4]}},
                {
                    "class_name": "Dense",
                    "name": "d",
                    "config": {},
                    "inbound_nodes": [{"args": [history]}],
                },
            ],
            "input_layers": ["a", 0, 0],
            "output_layers": ["d", 0, 0],
        },
    }
    e = refusal(_zip_with(json.dumps(config).encode()))
    assert e.code == "keras_invalid" and "malformed" in e.message


def test_an_archive_with_many_members_is_refused() -> None:
    e = refusal(_zip_with(b"{}", {f"assets/{i}": b"x" for i in range(100)}))
    assert e.code == "keras_invalid" and "101 files" in e.message


def _kernel_name(f: h5py.File) -> str:
    names = [
        n.decode() if isinstance(n, bytes) else str(n)
        for n in f["model_weights/dense"].attrs["weight_names"]
    ]
    (name,) = [n for n in names if "kernel" in n]
    return name


def _rewrite_legacy(tmp_path: Path, change: Callable[[h5py.File], None]) -> bytes:
    path = tmp_path / "model.h5"
    shutil.copy(FIXTURES / "mnist_k3_legacy.h5", path)
    with h5py.File(path, "r+") as f:
        change(f)
    return path.read_bytes()


def test_a_weight_declaring_more_than_the_limit_is_refused_unread(tmp_path: Path) -> None:
    def huge(f: h5py.File) -> None:
        group, wname = f["model_weights/dense"], _kernel_name(f)
        del group[wname]
        # declared 4 GiB, stored as nothing (chunked, never written): its size is checked first
        group.create_dataset(wname, shape=(1 << 15, 1 << 15), dtype="f4", chunks=(64, 64))

    e = refusal(_rewrite_legacy(tmp_path, huge))
    assert e.code == "too_large"


def test_an_external_link_in_the_weights_is_refused(tmp_path: Path) -> None:
    def link(f: h5py.File) -> None:
        group = f["model_weights/dense"]
        parent, _, leaf = _kernel_name(f).rpartition("/")
        target = group[parent] if parent else group
        del target[leaf]
        target[leaf] = h5py.ExternalLink("/etc/passwd", "/x")

    e = refusal(_rewrite_legacy(tmp_path, link))
    assert e.code == "keras_invalid" and "ExternalLink" in e.message


def test_a_file_missing_weights_is_refused(tmp_path: Path) -> None:
    def drop(f: h5py.File) -> None:
        del f["model_weights/dense"]

    e = refusal(_rewrite_legacy(tmp_path, drop))
    assert e.code == "keras_invalid" and "'dense'" in e.message


# --- through `python -m grader check` --------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grader", "check", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("name", ["mnist_k3.keras", "mnist_tfkeras.h5"])
def test_check_scores_a_keras_file_as_keras_predicts(name: str) -> None:
    out = run_cli(str(FIXTURES / name), "--json", "--cpu")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    # Keras's own accuracy on the bundled MNIST test set, recorded when the fixture was saved
    assert round(result["accuracy"], 4) == round(MANIFEST[name]["mnist_accuracy"], 4)
    assert result["preprocess"]["name"] == "raw" and result["params"] == MANIFEST[name]["params"]


def test_check_refuses_a_lambda_layer_with_exit_2_and_the_code() -> None:
    out = run_cli(str(FIXTURES / "refused" / "lambda.keras"))
    assert out.returncode == 2
    assert "rejected [keras_unsupported]" in out.stderr and "Lambda" in out.stderr


def test_the_diagnosis_points_back_to_raw_pixels_when_unit_is_declared_for_a_rescaling_model() -> (
    None
):
    out = run_cli(str(FIXTURES / "mnist_k3.keras"), "--preprocess", "unit", "--json", "--cpu")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["preprocess"]["name"] == "unit" and result["accuracy"] < 0.3
    assert "'raw'" in json.dumps(result["diagnosis"])
