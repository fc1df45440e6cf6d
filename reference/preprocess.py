"""The platform's preprocessing contract, in NumPy (no torch needed).

A model receives x = (pixel / 255 - mean) / std, laid out as its `podium.layout` says:
`nchw` (N, C, H, W), `nhwc` (N, H, W, C) or `flat_hwc` (N, H*W*C) flattened in H, W, C order.
"""

from __future__ import annotations

import numpy as np

PRESETS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "unit": ((0.0,), (1.0,)),
    "mnist": ((0.1307,), (0.3081,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}
LAYOUTS = ("nchw", "nhwc", "flat_hwc")


def mean_std(preset: str, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of a preset, broadcast to `channels`."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preprocess preset {preset!r}; one of {', '.join(PRESETS)}")
    mean, std = PRESETS[preset]
    m = np.broadcast_to(np.asarray(mean, dtype=np.float32), (channels,)).copy()
    s = np.broadcast_to(np.asarray(std, dtype=np.float32), (channels,)).copy()
    return m, s


def prepare(images: np.ndarray, preset: str, layout: str) -> np.ndarray:
    """uint8 images (N, H, W, C) -> float32 model input for `preset` and `layout`."""
    if images.ndim != 4:
        raise ValueError("images must be (N, H, W, C)")
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; one of {', '.join(LAYOUTS)}")
    mean, std = mean_std(preset, images.shape[3])
    x = (images.astype(np.float32) / np.float32(255.0) - mean) / std
    if layout == "nchw":
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    if layout == "flat_hwc":
        return np.ascontiguousarray(x.reshape(x.shape[0], -1))
    return np.ascontiguousarray(x)
