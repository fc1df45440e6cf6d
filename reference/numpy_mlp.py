"""A from-scratch NumPy MLP: forward, backprop, minibatch SGD with momentum and Adam.

    python -m reference.numpy_mlp --data $PODIUM_DATASETS/mnist [--epochs 8] [--optimizer adam]

Trains 784-256-128-10 (ReLU, softmax cross-entropy) on MNIST with inputs in [0, 1] (the `unit`
preset) and saves it in Podium's `.npz` network format to reference/models/numpy_mlp.npz:
`architecture` is a 0-d unicode array holding the JSON spec, and each dense layer NAME has
float32 `NAME.W` of shape (in, out) and `NAME.b` of shape (out,), so y = x @ W + b.

Update rules (standard):
  momentum: v = mu * v - lr * g;  w += v
  Adam:     m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
            w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "podium.npnet"


def relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0)


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def softmax(z: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(z))


class MLP:
    """Dense layers with ReLU between them and a linear last layer (logits)."""

    def __init__(self, sizes: list[int], seed: int = 0, dtype: Any = np.float32) -> None:
        rng = np.random.default_rng(seed)
        self.sizes = sizes
        self.W: list[np.ndarray] = []
        self.b: list[np.ndarray] = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
            # He-uniform for ReLU layers
            lim = np.sqrt(6.0 / n_in)
            self.W.append(rng.uniform(-lim, lim, (n_in, n_out)).astype(dtype))
            self.b.append(np.zeros(n_out, dtype=dtype))

    @property
    def params(self) -> list[np.ndarray]:
        return [p for pair in zip(self.W, self.b, strict=True) for p in pair]

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Logits and the activations each layer received (kept for backprop)."""
        acts = [x]
        h = x
        for i, (W, b) in enumerate(zip(self.W, self.b, strict=True)):
            z = h @ W + b
            h = z if i == len(self.W) - 1 else relu(z)
            acts.append(h)
        return h, acts

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
        """Mean softmax cross-entropy and its gradients, in `params` order."""
        logits, acts = self.forward(x)
        n = x.shape[0]
        lp = log_softmax(logits)
        loss = float(-lp[np.arange(n), y].mean())
        d = np.exp(lp)
        d[np.arange(n), y] -= 1
        d /= n  # dL/dlogits
        grads: list[np.ndarray] = []
        for i in range(len(self.W) - 1, -1, -1):
            a = acts[i]
            gW = a.T @ d
            gb = d.sum(axis=0)
            grads = [gW, gb] + grads
            if i:
                d = (d @ self.W[i].T) * (acts[i] > 0)  # through the ReLU of layer i - 1
        return loss, grads

    def predict(self, x: np.ndarray, batch: int = 2000) -> np.ndarray:
        return np.concatenate(
            [self.forward(x[i : i + batch])[0].argmax(1) for i in range(0, len(x), batch)]
        )

    # --- Podium .npz format -------------------------------------------------------------
    def spec(self, preprocess: str = "unit") -> dict[str, Any]:
        layers: list[dict[str, Any]] = []
        for i in range(len(self.W)):
            layers.append({"type": "dense", "name": f"fc{i + 1}"})
            if i < len(self.W) - 1:
                layers.append({"type": "relu"})
        layers.append({"type": "softmax"})
        return {
            "format": FORMAT,
            "version": 1,
            "input_shape": [self.sizes[0]],
            "preprocess": preprocess,
            "layers": layers,
        }

    def save_npz(self, path: str | Path, preprocess: str = "unit") -> None:
        weights: dict[str, np.ndarray] = {}
        for i, (W, b) in enumerate(zip(self.W, self.b, strict=True)):
            weights[f"fc{i + 1}.W"] = np.ascontiguousarray(W, dtype=np.float32)
            weights[f"fc{i + 1}.b"] = np.ascontiguousarray(b, dtype=np.float32)
        arch = np.array(json.dumps(self.spec(preprocess)))
        with open(path, "wb") as f:
            np.savez(f, architecture=arch, **weights)


class SGDMomentum:
    def __init__(self, params: list[np.ndarray], lr: float = 0.05, mu: float = 0.9) -> None:
        self.lr, self.mu = lr, mu
        self.v = [np.zeros_like(p) for p in params]

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        for p, g, v in zip(params, grads, self.v, strict=True):
            v *= self.mu
            v -= self.lr * g
            p += v


class Adam:
    def __init__(
        self,
        params: list[np.ndarray],
        lr: float = 1e-3,
        b1: float = 0.9,
        b2: float = 0.999,
        eps: float = 1e-8,
    ) -> None:
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        self.t += 1
        c1 = 1 - self.b1**self.t
        c2 = 1 - self.b2**self.t
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            p -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)


# --- reading the format back (dense MLPs only; the engine has the full converter) -------------
def load_npz(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    with np.load(path, allow_pickle=False) as z:
        spec = json.loads(str(z["architecture"][()]))
        weights = {k: z[k] for k in z.files if k != "architecture"}
    if spec.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} file")
    return spec, weights


def run_npz(spec: dict[str, Any], weights: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Forward pass of a flat .npz network (dense / activations / dropout / softmax)."""
    h = x.reshape(x.shape[0], -1).astype(np.float32)
    for layer in spec["layers"]:
        t = layer["type"]
        if t == "dense":
            h = h @ weights[layer["name"] + ".W"] + weights[layer["name"] + ".b"]
        elif t == "relu":
            h = relu(h)
        elif t == "sigmoid":
            h = 1 / (1 + np.exp(-h))
        elif t == "tanh":
            h = np.tanh(h)
        elif t == "leaky_relu":
            h = np.where(h > 0, h, h * layer.get("alpha", 0.01))
        elif t == "softmax":
            h = softmax(h)
        elif t == "normalize":
            h = (h - weights[layer["name"] + ".mean"]) / weights[layer["name"] + ".std"]
        elif t in ("dropout", "flatten"):
            pass
        else:
            raise ValueError(f"layer type {t!r} is not handled by this reader")
    return h


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reference.numpy_mlp")
    ap.add_argument("--data", required=True, type=Path, help="MNIST IDX directory")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    ap.add_argument("--lr", type=float)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--hidden", default="256,128")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)

    from reference import manifest
    from reference.data import load_split, split_indices
    from reference.onnxcheck import sha256_file

    x_all, y_all, _ = load_split(args.data, "train")
    x_test, y_test, test_sha = load_split(args.data, "test")
    recipe = {"seed": args.seed, "val_fraction": 0.1, "subset": None}
    tr, va = split_indices(len(x_all), recipe)
    flat = lambda a: a.reshape(len(a), -1).astype(np.float32) / np.float32(255.0)  # noqa: E731
    x_tr, y_tr, x_va, y_va, x_te = (
        flat(x_all[tr]),
        y_all[tr],
        flat(x_all[va]),
        y_all[va],
        flat(x_test),
    )

    sizes = [x_tr.shape[1], *[int(h) for h in args.hidden.split(",")], 10]
    net = MLP(sizes, seed=args.seed)
    lr = args.lr or (1e-3 if args.optimizer == "adam" else 0.05)
    opt: Adam | SGDMomentum = (
        Adam(net.params, lr=lr) if args.optimizer == "adam" else SGDMomentum(net.params, lr=lr)
    )
    rng = np.random.default_rng(args.seed + 1)
    best: tuple[float, int, list[np.ndarray]] = (-1.0, 0, [])
    t_start = time.time()
    for epoch in range(1, args.epochs + 1):
        t0 = time.time()
        order = rng.permutation(len(x_tr))
        tot = 0.0
        for i in range(0, len(order), args.batch):
            idx = order[i : i + args.batch]
            loss, grads = net.loss_and_grads(x_tr[idx], y_tr[idx])
            opt.step(net.params, grads)
            tot += loss * len(idx)
        val_acc = float((net.predict(x_va) == y_va).mean())
        if val_acc > best[0]:
            best = (val_acc, epoch, [p.copy() for p in net.params])
        print(
            f"{time.strftime('%H:%M:%S')} numpy_mlp epoch {epoch}/{args.epochs} "
            f"loss {tot / len(order):.4f} val_acc {val_acc:.4f} {time.time() - t0:.1f}s",
            flush=True,
        )
    elapsed = time.time() - t_start
    for p, q in zip(net.params, best[2], strict=True):
        p[...] = q
    out = args.out or (manifest.MODELS / "numpy_mlp.npz")
    out.parent.mkdir(parents=True, exist_ok=True)
    net.save_npz(out)
    spec, weights = load_npz(out)
    test_acc = float((run_npz(spec, weights, x_te).argmax(1) == y_test).mean())
    n_params = sum(p.size for p in net.params)
    print(f"saved {out}: {n_params} params, test accuracy {test_acc:.4f}", flush=True)
    if args.out is None:
        manifest.upsert(
            {
                "name": "numpy_mlp",
                "format": "npz",
                "dataset": "mnist",
                "test_data": "MNIST",
                "test_sha256": test_sha,
                "file": "models/numpy_mlp.npz",
                "description": f"from-scratch NumPy MLP {'-'.join(map(str, sizes))} (ReLU, softmax)",
                "params": n_params,
                "trainable_params": n_params,
                "macs": sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True)),
                "preprocess": "unit",
                "layout": "flat_hwc",
                "output": "probabilities",
                "recipe": {
                    "optimizer": args.optimizer,
                    "lr": lr,
                    "schedule": "constant",
                    "batch": args.batch,
                    "augmentation": None,
                    "val_fraction": 0.1,
                    "seed": args.seed,
                    "framework": "numpy (reference/numpy_mlp.py)",
                },
                "epochs": args.epochs,
                "best_epoch": best[1],
                "train_size": len(x_tr),
                "val_size": len(x_va),
                "val_accuracy": round(best[0], 4),
                "test_accuracy": round(test_acc, 4),
                "test_size": len(y_test),
                "course_accuracy": None,
                "target_accuracy": 0.97,
                "course_note": "",
                "sha256": sha256_file(out),
                "size_bytes": out.stat().st_size,
                "train_seconds": round(elapsed, 1),
                "command": f"python -m reference.numpy_mlp --data {args.data} --epochs {args.epochs}",
            }
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
