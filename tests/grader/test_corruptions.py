"""The robustness track's corruptions on hand-checked images: each does what it says, at its
fixed severity, deterministically."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grader.corruptions import (
    BLUR_SIGMA,
    CORRUPTIONS,
    FRACTION,
    corrupt,
    robustness_set,
)
from grader.datasets import Dataset

RNG = np.random.default_rng(0)


def _gray(value: int, n: int = 1, size: int = 9) -> np.ndarray:
    return np.full((n, size, size, 1), value, dtype=np.uint8)


def test_shift_moves_a_pixel_two_down_and_two_right():
    img = _gray(0)
    img[0, 3, 4, 0] = 200
    out = corrupt(img, "shift", RNG)
    assert out[0, 5, 6, 0] == 200 and out.sum() == 200


def test_rotation_keeps_the_centre_and_turns_a_point_by_fifteen_degrees():
    img = _gray(0, size=21)
    img[0, 10, 10, 0] = 255  # the centre
    img[0, 10, 18, 0] = 100  # 8 px right of it
    out = corrupt(img, "rotation", RNG)
    assert out[0, 10, 10, 0] == 255
    # Output (y, x) takes input (cy + dy cos − dx sin, cx + dy sin + dx cos): the point 8 px
    # right of the centre shows at (dy, dx) = (8 sin 15°, 8 cos 15°) = (2.07, 7.73).
    y = round(10 + 8 * math.sin(math.radians(15)))
    x = round(10 + 8 * math.cos(math.radians(15)))
    assert out[0, y, x, 0] == 100


def test_brightness_contrast_noise_and_blur_at_their_severity():
    assert corrupt(_gray(100), "brightness", RNG)[0, 0, 0, 0] == 100 + round(0.15 * 255)
    two = np.zeros((1, 2, 1, 1), dtype=np.uint8)
    two[0, 1] = 200  # mean 100: contrast 0.4 gives 100 ∓ 40
    assert corrupt(two, "contrast", RNG)[0, :, 0, 0].tolist() == [60, 140]
    noisy = corrupt(_gray(128, size=200), "gaussian_noise", np.random.default_rng(1))
    assert noisy.astype(float).std() == pytest.approx(0.08 * 255, rel=0.05)
    assert (corrupt(_gray(77), "blur", RNG) == 77).all()  # a flat image stays flat
    delta = _gray(0, size=9)
    delta[0, 4, 4, 0] = 255
    taps = np.exp(-(np.arange(-2, 3) ** 2) / (2 * BLUR_SIGMA**2))
    centre = (taps[2] / taps.sum()) ** 2  # separable: the product of the two centre taps
    assert corrupt(delta, "blur", RNG)[0, 4, 4, 0] == round(255 * centre)


def test_robustness_set_is_seeded_and_covers_each_corruption():
    images = RNG.integers(0, 256, (200, 8, 8, 3), dtype=np.uint8)
    ds = Dataset("t", images, RNG.integers(0, 10, 200), [str(i) for i in range(10)])
    robust, source, kind = robustness_set(ds, seed=3)
    again, source2, _ = robustness_set(ds, seed=3)
    assert np.array_equal(robust.images, again.images) and np.array_equal(source, source2)
    assert np.bincount(kind).tolist() == [round(200 * FRACTION)] * len(CORRUPTIONS)
    assert np.array_equal(robust.labels, ds.labels[source])
    other, source3, _ = robustness_set(ds, seed=4)
    assert not np.array_equal(source, source3)


def test_the_engine_scores_the_first_images_and_only_predicts_the_rest(
    trained_bytes, mnist_small, mnist_sample, pool
):
    """The robustness track's single run: corrupted copies appended after the held-out set are
    predicted, but the scores (and whether a diagnosis runs) are the held-out set's alone."""
    from grader import grade

    robust, _, _ = robustness_set(mnist_small, seed=0)
    wrong = (robust.labels + 1) % 10  # labels no prediction matches: would sink the accuracy
    both = Dataset(
        "both",
        np.concatenate([mnist_small.images, robust.images]),
        np.concatenate([mnist_small.labels, wrong]),
        list(mnist_small.classes),
        scored=len(mnist_small),
    )
    alone = grade(trained_bytes, "m.onnx", mnist_small, sample=mnist_sample, pool=pool)
    r = grade(trained_bytes, "m.onnx", both, sample=mnist_sample, pool=pool)
    assert r.n_images == len(mnist_small) and len(r.predictions) == len(both)
    assert r.accuracy == alone.accuracy and r.scores["confusion"] == alone.scores["confusion"]
    assert np.array_equal(r.predictions[: len(mnist_small)], alone.predictions)
    # The diagnosis sees the scored part only: the same verdict as on the clean set alone.
    assert r.diagnosis == alone.diagnosis
    assert r.scores.get("sample_accuracy") == alone.scores.get("sample_accuracy")
