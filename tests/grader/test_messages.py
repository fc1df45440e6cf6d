"""Messages say what is wrong in the student's terms: a model made for other images is told so
(not about a preset or a layout its metadata declares), and the memory limit names the limit."""

from __future__ import annotations

from pathlib import Path

import pytest

import grader
from grader.datasets import Dataset
from grader.errors import Rejected, RunFailed
from grader.sandbox import SandboxPool, memory_failure
from grader.types import Limits
from testsupport.hostile import expand_bomb
from testsupport.onnx_build import Weights

MODELS = Path(__file__).resolve().parents[2] / "reference" / "models"


@pytest.mark.parametrize(
    ("name", "shape"), [("cifar10_cnn_bn", "(N, 32, 32, 3)"), ("cifar10_logreg", "(N, 3072)")]
)
def test_a_cifar10_model_on_mnist_is_told_the_images_differ(name: str, shape: str) -> None:
    data = (MODELS / f"{name}.onnx").read_bytes()  # its metadata declares cifar10 and a layout
    with pytest.raises(Rejected) as info:
        grader.check_upload(data, f"{name}.onnx", image_shape=(28, 28, 1))
    message = info.value.message
    assert info.value.code == "bad_input"
    assert message.startswith(f"the model expects 32×32×3 images (input {shape})")
    assert "this competition's images are 28×28×1" in message
    assert "preset" not in message and "declared" not in message


def test_an_mnist_model_on_cifar10_is_told_the_images_differ() -> None:
    data = (MODELS / "mnist_cnn_deep.onnx").read_bytes()
    with pytest.raises(Rejected) as info:
        grader.check_upload(data, "m.onnx", image_shape=(32, 32, 3))
    assert "the model expects 28×28×1 images (input (N, 1, 28, 28))" in info.value.message
    assert "this competition's images are 32×32×3" in info.value.message


def test_a_layout_from_the_files_metadata_is_said_to_come_from_there() -> None:
    import onnx

    model = onnx.load(str(MODELS / "mnist_logreg.onnx"))
    onnx.helper.set_model_props(model, {"podium.layout": "nchw"})
    with pytest.raises(Rejected) as info:
        grader.check_upload(model.SerializeToString(), "m.onnx")
    assert info.value.code == "bad_layout"
    assert "(in the model metadata (podium.layout))" in info.value.message


def test_the_memory_limit_failure_names_the_limit_and_what_was_asked(
    trained: Weights, mnist_small: Dataset, pool: SandboxPool
) -> None:
    with pytest.raises(RunFailed) as info:
        grader.grade(
            expand_bomb(trained), "bomb.onnx", mnist_small, limits=Limits(memory_mb=512), pool=pool
        )
    assert info.value.code == "memory_limit"
    assert info.value.message.startswith("the model needed more memory than the 512 MB limit")
    assert "(it asked for 16,384 MB at once)" in info.value.message


def test_the_memory_message_is_whole_words_whatever_onnxruntime_says() -> None:
    text = "Failed to allocate memory for requested buffer of size 3221225472" + " x" * 400
    message = memory_failure(text, 3072).message
    assert message == (
        "the model needed more memory than the 3,072 MB limit allows "
        "(it asked for 3,072 MB at once)"
    )
    assert memory_failure("std::bad_alloc", 0).message == (
        "the model needed more memory than the limit allows"
    )
