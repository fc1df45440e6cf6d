"""`python -m bench.similarity`: how often independently trained models give the SAME wrong answer
on the images both get wrong, the rate competitions.selectors.similarity tests pairs against.

Grades the reference MNIST baselines (reference/manifest.json) and five softmax regressions on the
bundled MNIST test set: three fitted on disjoint thirds of the 1,000 bundled training images, two
on all of them from different initial weights (two runs of the same recipe). Prints every pair's
rate, highest first (docs/SIMILARITY.md has the figures of one run).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np

from grader import grade
from grader.datasets import load_dataset
from testsupport.mnist import fit_logreg, logreg_onnx, mnist_dir

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    test = load_dataset(mnist_dir(), split="test")
    train = load_dataset(mnist_dir(), split="train")
    preds: dict[str, np.ndarray] = {}
    for entry in json.loads((ROOT / "reference" / "manifest.json").read_text())["models"]:
        if entry["dataset"] == "mnist" and entry["format"] == "onnx":
            data = (ROOT / "reference" / entry["file"]).read_bytes()
            result = grade(data, "m.onnx", test, preprocess=entry.get("preprocess") or None)
            preds[entry["name"]] = np.asarray(result.predictions)
    for seed, lo, hi in ((1, 0, 333), (2, 333, 666), (3, 666, 999), (4, 0, 1000), (5, 0, 1000)):
        weights, bias = fit_logreg(train.images[lo:hi], train.labels[lo:hi], 60, seed=seed)
        result = grade(logreg_onnx(weights, bias), "m.onnx", test, preprocess="unit")
        preds[f"logreg_{seed} ({lo}:{hi})"] = np.asarray(result.predictions)
    rows = []
    for first, second in itertools.combinations(preds, 2):
        pa, pb = preds[first], preds[second]
        both = (pa != test.labels) & (pb != test.labels)
        n, k = int(both.sum()), int((both & (pa == pb)).sum())
        rows.append((k / max(n, 1), n, k, first, second))
    print("same wrong answer / both wrong, pair")
    for rate, n, k, a, b in sorted(rows, reverse=True):
        print(f"{rate:.3f}  {k:>5}/{n:<5}  {a} · {b}")


if __name__ == "__main__":
    main()
