"""Data augmentation with plain torch tensor ops (no torchvision).

Keras `ImageDataGenerator`-style random affine transforms (rotation, shifts, shear, zoom,
horizontal flip) through `affine_grid` + `grid_sample`, and additive Gaussian noise. Works on
float images in [0, 1], NCHW, before normalisation (so "zeros" padding is black background).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Affine:
    """One augmentation recipe's affine part. Angles in degrees, shift and zoom as fractions."""

    rotation: float = 0.0
    shift: float = 0.0
    shear: float = 0.0
    zoom: float = 0.0
    hflip: bool = False
    integer_shift: bool = False
    padding_mode: str = "zeros"


def random_affine(x: torch.Tensor, gen: torch.Generator, cfg: Affine) -> torch.Tensor:
    """Random per-image affine transform (the random draws in a fixed order: seeded runs repeat)."""
    rotation, shift, shear, zoom = cfg.rotation, cfg.shift, cfg.shear, cfg.zoom
    integer_shift = cfg.integer_shift
    n, _, h, w = x.shape

    def u() -> torch.Tensor:  # uniform in [-1, 1)
        return torch.rand(n, generator=gen) * 2 - 1

    ang = u() * math.radians(rotation)
    sh = u() * math.radians(shear)
    zx = 1 + u() * zoom
    zy = 1 + u() * zoom
    if integer_shift:
        tx = torch.round(u() * shift * w) * 2 / w
        ty = torch.round(u() * shift * h) * 2 / h
    else:
        tx = u() * shift * 2
        ty = u() * shift * 2
    cos, sin = torch.cos(ang), torch.sin(ang)
    # output -> input sampling matrix: rotation @ shear @ zoom (Keras composes the same pieces)
    a = torch.zeros(n, 2, 3)
    a[:, 0, 0] = cos * zx
    a[:, 1, 0] = sin * zx
    # shear as Keras builds it: [[1, -sin(sh)], [0, cos(sh)]], applied after the zoom
    a[:, 0, 1] = (-cos * torch.sin(sh) - sin * torch.cos(sh)) * zy
    a[:, 1, 1] = (-sin * torch.sin(sh) + cos * torch.cos(sh)) * zy
    a[:, 0, 2] = tx
    a[:, 1, 2] = ty
    if cfg.hflip:
        flip = torch.rand(n, generator=gen) < 0.5
        a[flip, :, 0] = -a[flip, :, 0]
    identity = (rotation == 0 and shear == 0 and zoom == 0) and integer_shift
    grid = F.affine_grid(a, list(x.shape), align_corners=False)
    mode = "nearest" if identity else "bilinear"
    return F.grid_sample(x, grid, mode=mode, padding_mode=cfg.padding_mode, align_corners=False)


def augment(x: torch.Tensor, gen: torch.Generator, cfg: dict[str, Any] | None) -> torch.Tensor:
    """Apply an augmentation config (see `reference.nets.MNIST_AUG` / `CIFAR_AUG`)."""
    if not cfg:
        return x
    affine = {k: v for k, v in cfg.items() if k != "noise"}
    if affine:
        x = random_affine(x, gen, Affine(**affine))
    noise = float(cfg.get("noise", 0.0))
    if noise:
        x = (x + torch.randn(x.shape, generator=gen) * noise).clamp_(0.0, 1.0)
    return x
