"""The platform's preprocessing contract, in NumPy (no torch needed).

A model receives x = (pixel / 255 - mean) / std, laid out as its `podium.layout` says:
`nchw` (N, C, H, W), `nhwc` (N, H, W, C) or `flat_hwc` (N, H*W*C) flattened in H, W, C order.
"""

from __future__ import annotations

import numpy as np

from grader.adapt import LAYOUTS as ENGINE_LAYOUTS
from grader.preprocess import PRESETS
from grader.sandbox_child import transform

__all__ = ["ENGINE_LAYOUTS", "LAYOUTS", "PRESETS", "mean_std", "prepare"]

# The layouts the reference exporter writes (a subset of the engine's; tests/reference checks it).
LAYOUTS = ("nchw", "nhwc", "flat_hwc")


def mean_std(preset: str, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of one of the engine's presets, broadcast to `channels`."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preprocess preset {preset!r}; one of {', '.join(PRESETS)}")
    mean, std = PRESETS[preset]
    m = np.broadcast_to(np.asarray(mean, dtype=np.float32), (channels,)).copy()
    s = np.broadcast_to(np.asarray(std, dtype=np.float32), (channels,)).copy()
    return m, s


def prepare(images: np.ndarray, preset: str, layout: str) -> np.ndarray:
    """uint8 images (N, H, W, C) -> float32 model input for `preset` and `layout`: the very
    transform the grader's sandbox child applies, so a reference check sees what grading sees."""
    if images.ndim != 4:
        raise ValueError("images must be (N, H, W, C)")
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; one of {', '.join(LAYOUTS)}")
    mean, std = mean_std(preset, images.shape[3])
    return transform(images, layout, mean, std, "float32")
