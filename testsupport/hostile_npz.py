"""NumPy-network (.npz) uploads built to hurt their parser: a spec of forty million empty lists,
a zip bomb, odd values, deep nesting. Used by the engine's tests and the platform's."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np


def npz_bytes(**arrays: Any) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def npnet_spec(layers: Any, **extra: Any) -> np.ndarray:
    spec = {"format": "podium.npnet", "version": 1, "input_shape": [784], "layers": layers}
    return np.array(json.dumps({**spec, **extra}))


def npz_with_text_member(name: str, prefix: str, repeat: str, times: int, suffix: str) -> bytes:
    """An npz whose `name` is one huge unicode string, written in chunks (little memory here)."""
    n_chars = len(prefix) + len(repeat) * times + len(suffix)
    header = {"descr": f"<U{n_chars}", "fortran_order": False, "shape": ()}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf, zf.open(f"{name}.npy", "w") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(prefix.encode("utf-32-le"))
        chunk = (repeat * 100_000).encode("utf-32-le")
        for _ in range(times // 100_000):
            f.write(chunk)
        f.write(suffix.encode("utf-32-le"))
    return buf.getvalue()


def forty_million_empty_lists() -> bytes:
    """Under 2 MB compressed; json.loads of it took 3.4 GB before the layer count was checked."""
    return npz_with_text_member(
        "architecture", '{"input_shape": [784], "layers": [', "[],", 40_000_000, "[]]}"
    )


def zip_bomb(hidden: int = 168_000) -> bytes:
    """About 530 MB of zeros as two dense layers (133 M parameters), under 1 MB compressed."""
    layers = [{"type": "dense", "name": "fc1"}, {"type": "dense", "name": "fc2"}]
    return npz_bytes(
        architecture=npnet_spec(layers),
        **{"fc1.W": np.zeros((784, hidden), np.float32), "fc1.b": np.zeros(hidden, np.float32)},
        **{"fc2.W": np.zeros((hidden, 10), np.float32), "fc2.b": np.zeros(10, np.float32)},
    )


def deep_nesting(depth: int = 5000) -> bytes:
    """JSON nested `depth` deep: json.loads raised RecursionError (a 500, not a refusal)."""
    deep = "[" * depth + "]" * depth
    text = '{"input_shape": [784], "layers": [{"type": "dense", "units": ' + deep + "}]}"
    return npz_bytes(architecture=np.array(text))
