"""Deterministic public/private split of a held-out set: same seed, same split, forever.

Each index is ranked by SHA-256 of "seed:index" (no dependence on a NumPy RNG version); the first
round(n * fraction) indices of that order form the public split, the rest the private split.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=32)
def split_indices(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if not 0.0 < fraction < 1.0:
        raise ValueError("public fraction must be strictly between 0 and 1")
    keys = [hashlib.sha256(f"{seed}:{i}".encode()).digest() for i in range(n)]
    order = np.array(sorted(range(n), key=keys.__getitem__), dtype=np.int64)
    n_public = min(max(round(n * fraction), 1), n - 1)
    public = np.sort(order[:n_public])
    private = np.sort(order[n_public:])
    public.setflags(write=False)
    private.setflags(write=False)
    return public, private
