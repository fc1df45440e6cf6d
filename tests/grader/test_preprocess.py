"""Preprocessing presets, custom and per-channel mean/std, metadata, precedence and the diagnosis."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import grader
from grader import diagnose
from grader.datasets import Dataset
from grader.errors import Rejected
from grader.preprocess import CHANNEL_PRESETS, PRESETS, declaration_checked, resolve_preprocess
from grader.sandbox import SandboxPool
from testsupport.frames import Frames, runs_sent
from testsupport.onnx_build import Weights, linear_model, raw

MNIST_PRESETS = [name for name in PRESETS if name not in CHANNEL_PRESETS]


@pytest.fixture(scope="module")
def unit_probs(trained: Weights, mnist_small: Dataset, pool: SandboxPool) -> np.ndarray:
    r = grader.grade(
        raw(linear_model(*trained, ["N", 784], layout="flat_hwc")), "m.onnx", mnist_small, pool=pool
    )
    assert r.probabilities is not None
    return r.probabilities


@pytest.fixture(scope="module")
def soft_cifar(cifar_weights: Weights) -> Weights:
    """The template weights scaled down, so that probabilities are not all saturated at 0 and 1."""
    return cifar_weights[0] * 0.01, cifar_weights[1]


@pytest.fixture(scope="module")
def cifar_unit_probs(soft_cifar: Weights, cifar_synth: Dataset, pool: SandboxPool) -> np.ndarray:
    model = linear_model(*soft_cifar, ["N", 32, 32, 3], layout="nhwc", image_shape=(32, 32, 3))
    r = grader.grade(raw(model), "c.onnx", cifar_synth, pool=pool)
    assert r.probabilities is not None
    return r.probabilities


# A model trained with preprocessing P, fed P, must reproduce the [0,1] model's probabilities
# exactly (up to float rounding); fed anything else, it must not. (Accuracy alone cannot tell:
# a linear model's argmax barely changes when its inputs are scaled.)


@pytest.mark.parametrize("name", MNIST_PRESETS)
def test_each_preset_feeds_what_its_model_expects(
    name: str, trained: Weights, mnist_small: Dataset, pool: SandboxPool, unit_probs: np.ndarray
) -> None:
    mean, std = PRESETS[name]
    model = raw(linear_model(*trained, ["N", 28, 28, 1], layout="nhwc", expects=(mean, std)))
    right = grader.grade(model, "m.onnx", mnist_small, preprocess=name, pool=pool)
    assert right.preprocess.name == name and right.preprocess.source == "upload"
    assert right.preprocess.mean == mean and right.preprocess.std == std
    assert right.accuracy > 0.85
    np.testing.assert_allclose(right.probabilities, unit_probs, atol=1e-4)
    other = "mnist" if name == "raw" else "raw"
    wrong = grader.grade(model, "m.onnx", mnist_small, preprocess=other, pool=pool)
    assert np.abs(wrong.probabilities - unit_probs).max() > 0.1


@pytest.mark.parametrize("name", CHANNEL_PRESETS)
def test_per_channel_presets_feed_what_their_model_expects(
    name: str,
    soft_cifar: Weights,
    cifar_synth: Dataset,
    pool: SandboxPool,
    cifar_unit_probs: np.ndarray,
) -> None:
    mean, std = PRESETS[name]
    model = raw(
        linear_model(
            *soft_cifar,
            ["N", 32, 32, 3],
            layout="nhwc",
            image_shape=(32, 32, 3),
            expects=(mean, std),
        )
    )
    r = grader.grade(model, "c.onnx", cifar_synth, preprocess=name, pool=pool)
    assert r.preprocess.mean == mean and len(r.preprocess.std) == 3
    assert r.accuracy > 0.95
    np.testing.assert_allclose(r.probabilities, cifar_unit_probs, atol=1e-4)


@pytest.mark.parametrize(
    ("mean", "std"), [("0.2", "0.7"), ([0.2], [0.7]), ("[0.2]", "[0.7]"), (0.2, 0.7)]
)
def test_custom_mean_std_in_any_spelling(
    mean: Any, std: Any, trained: Weights, mnist_small: Dataset, pool: SandboxPool
) -> None:
    model = raw(linear_model(*trained, ["N", 784], layout="flat_hwc", expects=([0.2], [0.7])))
    if isinstance(mean, float):  # a bare number is not a sequence: refused with a clear reason
        with pytest.raises(Rejected) as info:
            grader.check_upload(model, "m.onnx", mean=mean, std=std)
        assert info.value.code == "bad_preprocess"
        return
    r = grader.grade(model, "m.onnx", mnist_small, mean=mean, std=std, pool=pool)
    assert r.preprocess.name == "custom" and r.preprocess.mean == (0.2,)
    assert r.accuracy > 0.85


def test_custom_per_channel_mean_std(
    soft_cifar: Weights, cifar_synth: Dataset, pool: SandboxPool, cifar_unit_probs: np.ndarray
) -> None:
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.3, 0.4)
    model = raw(
        linear_model(
            *soft_cifar,
            ["N", 32, 32, 3],
            layout="nhwc",
            image_shape=(32, 32, 3),
            expects=(mean, std),
        )
    )
    r = grader.grade(
        model, "c.onnx", cifar_synth, mean="0.4,0.5,0.6", std="0.2, 0.3, 0.4", pool=pool
    )
    assert r.preprocess.mean == mean and r.preprocess.std == std
    assert r.accuracy > 0.95
    np.testing.assert_allclose(r.probabilities, cifar_unit_probs, atol=1e-4)
    swapped = grader.grade(
        model, "c.onnx", cifar_synth, mean="0.6,0.5,0.4", std="0.4,0.3,0.2", pool=pool
    )
    assert np.abs(swapped.probabilities - cifar_unit_probs).max() > 0.05


def test_metadata_preprocess_and_layout_are_read(
    trained: Weights, mnist_small: Dataset, pool: SandboxPool
) -> None:
    meta = {"podium.preprocess": "mnist", "podium.layout": "flat_hwc"}
    model = linear_model(
        *trained, ["N", 784], layout="flat_hwc", meta=meta, expects=PRESETS["mnist"]
    )
    r = grader.grade(raw(model), "m.onnx", mnist_small, pool=pool)
    assert r.preprocess.name == "mnist" and r.preprocess.source == "model metadata"
    assert r.accuracy > 0.85


def test_metadata_mean_std_are_read(
    trained: Weights, mnist_small: Dataset, pool: SandboxPool
) -> None:
    meta = {"podium.mean": "0.3", "podium.std": "0.6"}
    model = linear_model(*trained, ["N", 784], layout="flat_hwc", meta=meta, expects=([0.3], [0.6]))
    r = grader.grade(raw(model), "m.onnx", mnist_small, pool=pool)
    assert r.preprocess.name == "custom" and r.preprocess.source == "model metadata"
    assert r.preprocess.mean == (0.3,) and r.accuracy > 0.85


def test_upload_declaration_beats_metadata(
    trained: Weights, mnist_small: Dataset, pool: SandboxPool
) -> None:
    model = linear_model(
        *trained,
        ["N", 784],
        layout="flat_hwc",
        meta={"podium.preprocess": "raw"},
        expects=PRESETS["symmetric"],
    )
    r = grader.grade(raw(model), "m.onnx", mnist_small, preprocess="symmetric", pool=pool)
    assert r.preprocess.name == "symmetric" and r.preprocess.source == "upload"
    assert r.accuracy > 0.85


def test_default_is_unit() -> None:
    p = resolve_preprocess(name=None, mean=None, std=None, metadata={}, channels=1)
    assert (p.name, p.mean, p.std, p.source) == ("unit", (0.0,), (1.0,), "default")


@pytest.mark.parametrize(
    ("kw", "channels", "fragment"),
    [
        ({"name": "imagenette"}, 1, "unknown preprocessing 'imagenette'"),
        ({"mean": "0.5"}, 1, "give both a mean and a std"),
        ({"mean": "0.1,0.2", "std": "1"}, 3, "mean needs 1 or 3 values"),
        ({"mean": "0", "std": "0"}, 1, "std must be positive"),
        ({"mean": "a", "std": "1"}, 1, "mean must be numbers"),
        ({"name": "cifar10"}, 1, "3-channel"),
        ({"name": "imagenet"}, 1, "the imagenet preset is for 3-channel (colour) images"),
        ({"mean": "0.1,0.2,0.3", "std": "1"}, 1, "mean needs 1 value, not 3"),
    ],
)
def test_bad_preprocess_declarations(kw: dict, channels: int, fragment: str) -> None:
    args: dict[str, Any] = {"name": None, "mean": None, "std": None, **kw}
    with pytest.raises(Rejected) as info:
        resolve_preprocess(metadata={}, channels=channels, **args)
    assert info.value.code == "bad_preprocess"
    assert fragment in info.value.message


def test_imagenet_preset_is_torchvisions_normalisation() -> None:
    assert PRESETS["imagenet"] == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


@pytest.mark.parametrize(
    ("preset", "mean", "std", "fragment"),
    [
        ("custom", "", "", "custom preprocessing needs a mean and a std"),
        ("custom", None, None, "custom preprocessing needs a mean and a std"),
        ("custom", "0.5", "", "give both a mean and a std"),
        ("unit", "0.5", "0.5", "the 'unit' preset sets its own mean and std"),
        ("mnist", "", "0.3", "the 'mnist' preset sets its own mean and std"),
        ("", "0.5", None, "give both a mean and a std"),
        ("nonsense", "", "", "unknown preprocessing 'nonsense'"),
    ],
)
def test_contradictory_or_incomplete_declarations_are_refused(
    preset: str, mean: str | None, std: str | None, fragment: str
) -> None:
    with pytest.raises(Rejected) as info:
        declaration_checked(preset, mean, std)
    assert info.value.code == "bad_preprocess" and fragment in info.value.message
    with pytest.raises(Rejected) as engine:  # the engine judges an upload the same way
        grader.check_upload(b"not read", "m.onnx", preprocess=preset, mean=mean, std=std)
    assert engine.value.message == info.value.message


@pytest.mark.parametrize(
    ("preset", "mean", "std", "expected"),
    [
        ("", "", "", ("", None, None)),
        ("auto", None, None, ("", None, None)),
        ("Unit", "", "", ("unit", None, None)),
        ("custom", "0.5", "0.25", ("custom", (0.5,), (0.25,))),
        ("", "0.5", "0.25", ("custom", (0.5,), (0.25,))),
    ],
)
def test_consistent_declarations_are_read(preset: str, mean: str, std: str, expected) -> None:
    assert declaration_checked(preset, mean, std) == expected


# --- the diagnosis ------------------------------------------------------------------------------


def test_raw_trained_model_declared_unit_gets_a_raw_diagnosis_from_the_sample_only(
    trained: Weights,
    mnist_small: Dataset,
    mnist_sample: Dataset,
    pool: SandboxPool,
    sent_to_child: Frames,
) -> None:
    w, b = trained
    model = raw(linear_model(w / 255.0, b, ["N", 1, 28, 28]))  # trained on raw 0..255 pixels
    r = grader.grade(
        model, "m.onnx", mnist_small, preprocess="unit", sample=mnist_sample, pool=pool
    )
    assert r.diagnosis is not None
    assert "0..255" in r.diagnosis and "raw" in r.diagnosis
    assert "public training images" in r.diagnosis
    assert r.suggested_preprocess == "raw"  # what a page offers to resubmit with
    assert r.scores["sample_accuracy"] < 0.5
    runs = runs_sent(sent_to_child)
    # One run of the held-out images (the first: the diagnosis follows a poor score), then the
    # diagnosis runs, every one of them on sample images only.
    assert runs[0][0] == mnist_small.sha256
    assert runs[0][1] is None or np.array_equal(runs[0][1], mnist_small.images)
    diagnosis_runs = runs[1:]
    assert len(diagnosis_runs) >= 2 and all(k != mnist_small.sha256 for k, _ in diagnosis_runs)
    sample_bytes = {img.tobytes() for img in mnist_sample.images}
    for _, batch in diagnosis_runs:
        if batch is not None:  # sent once; later runs name the images the child keeps
            assert 0 < len(batch) <= 256
            assert all(img.tobytes() in sample_bytes for img in batch)


def test_right_preprocessing_costs_only_the_probe_and_gets_no_diagnosis(
    trained_bytes: bytes,
    mnist_small: Dataset,
    mnist_sample: Dataset,
    pool: SandboxPool,
    sent_to_child: Frames,
) -> None:
    r = grader.grade(trained_bytes, "m.onnx", mnist_small, sample=mnist_sample, pool=pool)
    assert r.diagnosis is None and r.suggested_preprocess is None and r.accuracy > 0.8
    runs = runs_sent(sent_to_child)[1:]  # after the held-out run
    probe = f"0-{diagnose.PROBE_SIZE}"
    assert runs and all(key.endswith(probe) for key, _ in runs if key)  # cached under its key
    assert all(len(batch) == diagnose.PROBE_SIZE for key, batch in runs if batch is not None)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0.5", (0.5,)),
        (" 0.49, 0.48 ,0.45 ", (0.49, 0.48, 0.45)),
        ("[0.49, 0.48, 0.45]", (0.49, 0.48, 0.45)),
        ("0.2; 0.3", (0.2, 0.3)),
        ("", None),
        ("  ", None),
        (None, None),
    ],
)
def test_one_parser_reads_mean_and_std_for_every_interface(text, expected) -> None:
    from grader.preprocess import parse_values

    assert parse_values(text, "mean") == expected


@pytest.mark.parametrize("text", ["tiny", "0.5, x", "nan", "0.1, inf", "[,]"])
def test_the_parser_refuses_what_is_not_a_finite_number(text) -> None:
    from grader.preprocess import parse_values

    with pytest.raises(Rejected) as info:
        parse_values(text, "std")
    assert info.value.code == "bad_preprocess" and "std" in info.value.message
