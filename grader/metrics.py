"""Scores from predictions and labels: accuracy first, then the diagnostics a student reads."""

from __future__ import annotations

from typing import Any

import numpy as np


def compute_scores(
    labels: np.ndarray,
    predictions: np.ndarray,
    probabilities: np.ndarray | None = None,
    n_classes: int = 10,
) -> dict[str, Any]:
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    n = len(labels)
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (labels, np.clip(predictions, 0, n_classes - 1)), 1)
    support = confusion.sum(axis=1)
    predicted = confusion.sum(axis=0)
    tp = np.diag(confusion)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(support > 0, tp / np.maximum(support, 1), np.nan)
        precision = np.where(predicted > 0, tp / np.maximum(predicted, 1), 0.0)
        f1 = np.where(
            precision + np.nan_to_num(recall) > 0,
            2 * precision * np.nan_to_num(recall) / (precision + np.nan_to_num(recall)),
            0.0,
        )
    present = support > 0
    scores: dict[str, Any] = {
        "accuracy": float(tp.sum() / n) if n else 0.0,
        "n_images": n,
        "per_class_accuracy": [None if np.isnan(r) else float(r) for r in recall],
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "confusion": confusion.tolist(),
        "log_loss": None,
    }
    if probabilities is not None and n:
        p = np.clip(probabilities[np.arange(n), labels], 1e-15, 1.0)
        scores["log_loss"] = float(-np.log(p).mean())
    return scores
