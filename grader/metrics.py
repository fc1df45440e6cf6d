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
        "ece": None,
        "reliability": None,
    }
    if probabilities is not None and n:
        p = np.clip(probabilities[np.arange(n), labels], 1e-15, 1.0)
        scores["log_loss"] = float(-np.log(p).mean())
        scores["ece"], scores["reliability"] = calibration(labels, probabilities)
    return scores


ECE_BINS = 15  # as in Guo et al., "On Calibration of Modern Neural Networks" (ICML 2017)


def calibration(
    labels: np.ndarray, probabilities: np.ndarray, bins: int = ECE_BINS
) -> tuple[float, list[dict[str, float]]]:
    """Expected calibration error and the reliability diagram's bins.

    Each image goes to the bin of its confidence (the top class's probability) among `bins`
    equal-width bins over [0, 1], bin m holding (m/bins, (m+1)/bins]; ECE is the image-weighted
    mean of |accuracy − mean confidence| over the bins. The bins (non-empty ones only) say
    their range, count, mean confidence and accuracy."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    confidence = probabilities.max(axis=1)
    right = probabilities.argmax(axis=1) == labels
    which = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    ece, diagram = 0.0, []
    for m in range(bins):
        in_bin = which == m
        count = int(np.count_nonzero(in_bin))
        if not count:
            continue
        conf, acc = float(confidence[in_bin].mean()), float(right[in_bin].mean())
        ece += count / n * abs(acc - conf)
        diagram.append(
            {
                "low": m / bins,
                "high": (m + 1) / bins,
                "count": count,
                "confidence": conf,
                "accuracy": acc,
            }
        )
    return float(ece), diagram
