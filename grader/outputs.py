"""Reading a model's outputs as class predictions, whatever form they take.

Accepted: logits, probabilities or log-probabilities (N, K), with extra unit dims squeezed; class
indices (N,) of an integer type; scikit-learn exports (a label output plus probabilities, also in
ZipMap's sequence-of-maps form, which the sandbox turns into an array).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grader.errors import Rejected


@dataclass
class Interpreted:
    predictions: np.ndarray  # (N,) int64
    probabilities: np.ndarray | None  # (N, K) float64, rows summing to 1
    kind: str  # "logits", "probabilities", "log_probabilities", "class_indices"
    output_name: str
    softmax_applied: bool


def _squeeze(a: np.ndarray, n: int) -> np.ndarray:
    """(N, 1, K), (N, K, 1, 1), (1, N, K) -> (N, K); (N, 1) -> (N,)."""
    if a.ndim <= 1:
        return a
    if a.shape[0] == n:
        return a.reshape((n, *[d for d in a.shape[1:] if d != 1]))
    dims = [d for d in a.shape if d != 1]
    return a.reshape(dims) if dims and dims[0] == n else a


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def interpret(outputs: dict[str, np.ndarray], n: int, n_classes: int) -> Interpreted:
    scores: list[tuple[str, np.ndarray]] = []
    labels: list[tuple[str, np.ndarray]] = []
    shapes = []
    for name, raw in outputs.items():
        a = _squeeze(np.asarray(raw), n)
        shapes.append(f"{name} {tuple(raw.shape)}")
        if a.shape[:1] != (n,):
            continue
        if a.ndim == 2 and a.shape[1] == n_classes and np.issubdtype(a.dtype, np.floating):
            scores.append((name, a.astype(np.float64)))
        elif a.ndim == 1 and (np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_):
            labels.append((name, a.astype(np.int64)))
        elif a.ndim == 1 and n_classes == 1:
            scores.append((name, a.astype(np.float64)[:, None]))
    if not scores and not labels:
        raise Rejected(
            "bad_output",
            f"the model's outputs are {', '.join(shapes)} for {n} images; expected scores for "
            f"{n_classes} classes per image, (N, {n_classes}), or class indices (N,) as integers",
        )
    if scores:
        name, s = scores[-1] if len(scores) > 1 and labels else scores[0]
        bad = ~np.isfinite(s).all(axis=1)
        if bad.any():
            raise Rejected(
                "non_finite",
                f"the model produced NaN or infinite scores for {int(bad.sum())} of {n} images "
                "(check for NaN weights or overflow)",
            )
        sums = s.sum(axis=1)
        if (s >= -1e-6).all() and (s <= 1 + 1e-6).all() and np.allclose(sums, 1.0, atol=1e-3):
            probs, kind, applied = s / sums[:, None], "probabilities", False
        elif (s <= 1e-6).all() and np.allclose(np.exp(s).sum(axis=1), 1.0, atol=1e-3):
            probs, kind, applied = np.exp(s), "log_probabilities", False
        else:
            probs, kind, applied = _softmax(s), "logits", True
        return Interpreted(s.argmax(axis=1).astype(np.int64), probs, kind, name, applied)
    name, idx = labels[0]
    if idx.min(initial=0) < 0 or idx.max(initial=0) >= n_classes:
        raise Rejected(
            "bad_output",
            f"output {name!r} holds class indices outside 0..{n_classes - 1} "
            f"(from {int(idx.min())} to {int(idx.max())})",
        )
    return Interpreted(idx, None, "class_indices", name, False)
