"""Keras/TensorFlow "same" padding helper: pads equal TensorFlow's formula."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from reference.padding import same_output_size, same_pads_1d, same_pads_2d, valid_output_size


def tf_same_pads(size: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow's documented rule, written independently of the helper."""
    out = math.ceil(size / s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


@pytest.mark.parametrize(
    ("size", "k", "s", "expected"),
    [
        (28, 5, 2, (1, 2)),  # the course's first conv: asymmetric
        (14, 5, 2, (1, 2)),
        (7, 5, 1, (2, 2)),
        (32, 3, 1, (1, 1)),
        (28, 3, 2, (0, 1)),
        (5, 2, 2, (0, 1)),
        (1, 5, 2, (2, 2)),
        (10, 1, 2, (0, 0)),
        (27, 5, 2, (2, 2)),
    ],
)
def test_same_pads_examples(size: int, k: int, s: int, expected: tuple[int, int]) -> None:
    assert same_pads_1d(size, k, s) == expected
    assert same_pads_1d(size, k, s) == tf_same_pads(size, k, s)


def test_same_pads_match_tf_formula_exhaustively() -> None:
    for size in range(1, 40):
        for k in range(1, 8):
            for s in range(1, 4):
                before, after = same_pads_1d(size, k, s)
                assert (before, after) == tf_same_pads(size, k, s)
                # the padded input gives exactly ceil(size / s) outputs
                assert (size + before + after - k) // s + 1 == same_output_size(size, s)


def test_same_pads_2d_and_valid() -> None:
    assert same_pads_2d((28, 28), 5, 2) == (1, 2, 1, 2)
    assert same_pads_2d((28, 14), (5, 3), (2, 1)) == (1, 2, 1, 1)
    assert same_output_size(28, 2) == 14 and same_output_size(7, 2) == 4
    assert valid_output_size(28, 3) == 26 and valid_output_size(13, 2, 2) == 6


def test_symmetric_padding_is_not_keras() -> None:
    # torch's padding=2 would pad (2, 2); Keras pads (1, 2) at 28x28, k=5, s=2
    assert same_pads_1d(28, 5, 2) != (2, 2)


def test_padding_helper_imports_without_torch() -> None:
    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys; import reference.padding, reference.preprocess, reference.onnxcheck, "
        "reference.numpy_mlp, reference.manifest; assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)
