"""Deterministic image corruptions for the robustness track, in the spirit of CIFAR-10-C
(Hendrycks and Dietterich, "Benchmarking Neural Network Robustness to Common Corruptions and
Perturbations", ICLR 2019), at one fixed severity: their CIFAR-10 severity-3 values for noise
(σ = 0.08), blur (σ = 0.7 px), contrast (× 0.4) and brightness (+ 0.15), and two small geometric
ones of our own: a shift of 2 px and a rotation of 15°.

Pure NumPy on uint8 (N, H, W, C) images, bounded work (a few passes per image), no randomness but
a seeded generator: the same images and seed give the same corrupted images everywhere.
"""

from __future__ import annotations

import math

import numpy as np

from grader.datasets import Dataset

VERSION = 1  # part of the cache key: change it when a corruption changes
CORRUPTIONS = ("gaussian_noise", "blur", "contrast", "brightness", "shift", "rotation")
FRACTION = 0.1  # share of the held-out images corrupted by each corruption
NOISE_SIGMA, BLUR_SIGMA, CONTRAST, BRIGHTNESS = 0.08, 0.7, 0.4, 0.15
SHIFT_PX, ROTATION_DEG = 2, 15.0


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def _blur(x: np.ndarray) -> np.ndarray:
    radius = 2
    taps = np.exp(-(np.arange(-radius, radius + 1) ** 2) / (2 * BLUR_SIGMA**2))
    taps /= taps.sum()
    for axis in (1, 2):  # separable: rows, then columns, edges repeated
        pad = [(0, 0)] * 4
        pad[axis] = (radius, radius)
        padded = np.pad(x, pad, mode="edge")
        n = x.shape[axis]
        x = sum(w * np.take(padded, np.arange(i, i + n), axis=axis) for i, w in enumerate(taps))
    return x


def _rotate(x: np.ndarray) -> np.ndarray:
    n, h, w, c = x.shape
    a = math.radians(ROTATION_DEG)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    # Each output pixel takes the input pixel it came from (nearest), black outside.
    sy = np.rint(cy + (yy - cy) * math.cos(a) - (xx - cx) * math.sin(a)).astype(np.int64)
    sx = np.rint(cx + (yy - cy) * math.sin(a) + (xx - cx) * math.cos(a)).astype(np.int64)
    inside = (sy >= 0) & (sy < h) & (sx >= 0) & (sx < w)
    out = np.zeros_like(x)
    out[:, inside] = x[:, sy[inside], sx[inside]]
    return out


def corrupt(images: np.ndarray, name: str, rng: np.random.Generator) -> np.ndarray:
    """The images under one corruption, as uint8 of the same shape."""
    if name == "shift":
        out = np.zeros_like(images)
        out[:, SHIFT_PX:, SHIFT_PX:] = images[:, :-SHIFT_PX, :-SHIFT_PX]
        return out
    if name == "rotation":
        return _rotate(images)
    x = images.astype(np.float64) / 255.0
    if name == "gaussian_noise":
        return _to_uint8(x + rng.normal(0.0, NOISE_SIGMA, size=x.shape))
    if name == "blur":
        return _to_uint8(_blur(x))
    if name == "contrast":
        mean = x.mean(axis=(1, 2, 3), keepdims=True)
        return _to_uint8((x - mean) * CONTRAST + mean)
    if name == "brightness":
        return _to_uint8(x + BRIGHTNESS)
    raise ValueError(f"unknown corruption {name!r}")


def robustness_set(dataset: Dataset, *, seed: int) -> tuple[Dataset, np.ndarray, np.ndarray]:
    """The corrupted images (a Dataset), each one's source index in `dataset` and corruption
    index in CORRUPTIONS. Each corruption takes its own seeded FRACTION of the images."""
    rng = np.random.default_rng([seed, VERSION])
    n = len(dataset)
    k = max(1, round(n * FRACTION))
    parts, sources, kinds = [], [], []
    for j, name in enumerate(CORRUPTIONS):
        idx = np.sort(rng.choice(n, size=k, replace=False))
        parts.append(corrupt(dataset.images[idx], name, rng))
        sources.append(idx)
        kinds.append(np.full(k, j, dtype=np.int64))
    source, kind = np.concatenate(sources), np.concatenate(kinds)
    images = np.concatenate(parts)
    robust = Dataset(
        f"{dataset.name} (corrupted)", images, dataset.labels[source], list(dataset.classes)
    )
    return robust, source, kind
