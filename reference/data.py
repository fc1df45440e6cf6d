"""Training data through the engine's loaders, cached as .npy, and the fixed splits (no torch)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

CACHE = Path(__file__).resolve().parent / "checkpoints" / "data"


def load_split(path: Path, split: str) -> tuple[np.ndarray, np.ndarray, str]:
    """uint8 (N, H, W, C) images, int64 labels and the dataset sha256 of one split.

    Decoded through `grader.datasets.load_dataset` once, then cached under
    reference/checkpoints/data/ (decoding 60,000 CIFAR-10 JPEGs takes minutes).
    """
    path = Path(path)
    key = f"{path.name}-{split}"
    fi, fl, fh = CACHE / f"{key}.images.npy", CACHE / f"{key}.labels.npy", CACHE / f"{key}.sha256"
    if fi.exists() and fl.exists() and fh.exists():
        return np.load(fi), np.load(fl), fh.read_text().strip()
    from grader.datasets import load_dataset

    t = time.time()
    ds = load_dataset(path, split=split)
    print(f"decoded {path.name} {split}: {ds.images.shape} in {time.time() - t:.0f}s", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(fi, ds.images)
    np.save(fl, ds.labels)
    fh.write_text(ds.sha256)
    return ds.images, ds.labels, ds.sha256


def split_indices(n: int, recipe: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Fixed (seeded) optional subset, then a fixed validation split (recipe["val_fraction"])."""
    perm = np.random.default_rng(recipe["seed"]).permutation(n)
    if recipe.get("subset"):
        perm = perm[: recipe["subset"]]
    n_val = int(round(len(perm) * recipe["val_fraction"]))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])
