"""Podium starter kit: a one-hidden-layer network in plain NumPy, saved as Podium's `.npz`.

    python numpy_mlp.py --data train.npz [--epochs 10] [--out model.npz]

train.npz holds X (N, height, width, channels) uint8 pixels and y (N,) integer labels, e.g.
for MNIST: (X, y), _ = keras.datasets.mnist.load_data(); np.savez("train.npz", X=X[..., None], y=y).
Inputs are pixel/255 (the `unit` preset); upload model.npz and declare `unit` (it is in the file).
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N images")
    # A fresh seed each run (printed): two students running the kit get two different models.
    parser.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(4), "little"))
    parser.add_argument("--out", default="model.npz")
    args = parser.parse_args()
    print(f"seed {args.seed}")

    data = np.load(args.data)
    images, labels = data["X"], data["y"].astype(np.int64)
    if images.ndim == 3:
        images = images[..., None]  # (N, H, W) -> (N, H, W, 1)
    if args.limit:
        images, labels = images[: args.limit], labels[: args.limit]
    shape = list(images.shape[1:])
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0  # height, width, channel order
    n_classes = int(labels.max()) + 1
    rng = np.random.default_rng(args.seed)
    w1 = rng.normal(0, np.sqrt(2 / x.shape[1]), (x.shape[1], args.hidden)).astype(np.float32)
    b1 = np.zeros(args.hidden, np.float32)
    w2 = rng.normal(0, np.sqrt(2 / args.hidden), (args.hidden, n_classes)).astype(np.float32)
    b2 = np.zeros(n_classes, np.float32)
    lr, batch = 0.1, 64
    for epoch in range(args.epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            idx = order[start : start + batch]
            h = np.maximum(x[idx] @ w1 + b1, 0)
            z = h @ w2 + b2
            p = np.exp(z - z.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            g = p
            g[np.arange(len(idx)), labels[idx]] -= 1
            g /= len(idx)
            gh = (g @ w2.T) * (h > 0)
            w2 -= lr * h.T @ g
            b2 -= lr * g.sum(0)
            w1 -= lr * x[idx].T @ gh
            b1 -= lr * gh.sum(0)
        z = np.maximum(x @ w1 + b1, 0) @ w2 + b2
        print(f"epoch {epoch + 1}: training accuracy {(z.argmax(1) == labels).mean():.4f}")

    spec = {
        "format": "podium.npnet",
        "version": 1,
        "input_shape": shape,
        "preprocess": "unit",
        "layers": [
            {"type": "flatten"},
            {"type": "dense", "name": "fc1"},
            {"type": "relu"},
            {"type": "dense", "name": "fc2"},
            {"type": "softmax"},
        ],
    }
    np.savez(
        args.out,
        architecture=np.array(json.dumps(spec)),
        **{"fc1.W": w1, "fc1.b": b1, "fc2.W": w2, "fc2.b": b2},
    )
    print(f"saved {args.out}: upload it (preprocessing 'unit')")


if __name__ == "__main__":
    main()
