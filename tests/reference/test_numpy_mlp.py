"""The from-scratch NumPy MLP: gradients, optimisers, and the saved .npz network."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reference import manifest
from reference.numpy_mlp import FORMAT, MLP, Adam, SGDMomentum, load_npz, run_npz


def test_backprop_matches_finite_differences() -> None:
    rng = np.random.default_rng(1)
    net = MLP([6, 5, 4, 3], seed=2, dtype=np.float64)
    for b in net.b:
        b[...] = rng.normal(size=b.shape) * 0.1  # non-zero biases exercise every path
    x = rng.normal(size=(7, 6))
    y = rng.integers(0, 3, 7)
    _, grads = net.loss_and_grads(x, y)
    eps = 1e-6
    for p, g in zip(net.params, grads, strict=True):
        num = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + eps
            lp, _ = net.loss_and_grads(x, y)
            p[idx] = old - eps
            lm, _ = net.loss_and_grads(x, y)
            p[idx] = old
            num[idx] = (lp - lm) / (2 * eps)
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-8)


def test_momentum_update_formula() -> None:
    w = np.array([1.0, -2.0])
    opt = SGDMomentum([w], lr=0.1, mu=0.9)
    g = np.array([0.5, 1.0])
    opt.step([w], [g])  # v = -0.1 g
    np.testing.assert_allclose(w, [0.95, -2.1])
    opt.step([w], [g])  # v = 0.9 v - 0.1 g
    np.testing.assert_allclose(w, [0.95 - 0.095, -2.1 - 0.19])


def test_adam_update_formula() -> None:
    w = np.array([1.0, -2.0])
    opt = Adam([w], lr=0.01)
    g = np.array([0.5, -3.0])
    opt.step([w], [g])  # first step with bias correction moves each weight by ~lr * sign(g)
    np.testing.assert_allclose(w, [0.99, -1.99], rtol=1e-6)
    m = 0.1 * g * 0.9 + 0.1 * g
    v = 0.001 * g * g * 0.999 + 0.001 * g * g
    expected = np.array([0.99, -1.99]) - 0.01 * (m / (1 - 0.81)) / (
        np.sqrt(v / (1 - 0.999**2)) + 1e-8
    )
    opt.step([w], [g])
    np.testing.assert_allclose(w, expected, rtol=1e-6)


def test_training_reduces_loss_on_a_toy_problem() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    net = MLP([4, 16, 2], seed=0, dtype=np.float64)
    opt = Adam(net.params, lr=0.01)
    first, _ = net.loss_and_grads(x, y)
    for _ in range(200):
        _, g = net.loss_and_grads(x, y)
        opt.step(net.params, g)
    last, _ = net.loss_and_grads(x, y)
    assert last < first / 4
    assert (net.predict(x) == y).mean() > 0.95


def test_npz_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    net = MLP([12, 5, 3], seed=0)
    path = tmp_path / "n.npz"
    net.save_npz(path)
    with np.load(path, allow_pickle=False) as z:
        arch = z["architecture"]
        assert arch.shape == () and arch.dtype.kind == "U"
        assert all(z[k].dtype == np.float32 for k in z.files if k != "architecture")
    spec, weights = load_npz(path)
    assert spec["format"] == FORMAT and spec["version"] == 1 and spec["input_shape"] == [12]
    assert weights["fc1.W"].shape == (12, 5) and weights["fc2.b"].shape == (3,)
    x = np.random.default_rng(0).random((4, 12), dtype=np.float32)
    logits, _ = net.forward(x)
    probs = run_npz(spec, weights, x)
    np.testing.assert_allclose(probs.argmax(1), logits.argmax(1))
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-5)


def test_committed_numpy_mlp() -> None:
    e = {m["name"]: m for m in manifest.entries()}.get("numpy_mlp")
    if e is None:
        pytest.fail("numpy_mlp is not in reference/manifest.json")
    assert e["format"] == "npz" and e["file"] == "models/numpy_mlp.npz"
    spec, weights = load_npz(manifest.ROOT / e["file"])
    json.dumps(spec)
    assert spec["preprocess"] == e["preprocess"] == "unit"
    assert sum(w.size for w in weights.values()) == e["params"]
    assert e["test_accuracy"] >= 0.97


@pytest.mark.slow
def test_numpy_mlp_accuracy(mnist_test) -> None:  # type: ignore[no-untyped-def]
    e = {m["name"]: m for m in manifest.entries()}["numpy_mlp"]
    spec, weights = load_npz(manifest.ROOT / e["file"])
    x = mnist_test.images.reshape(len(mnist_test.images), -1).astype(np.float32) / 255
    acc = float((run_npz(spec, weights, x).argmax(1) == mnist_test.labels).mean())
    assert acc >= 0.97
    assert abs(acc - e["test_accuracy"]) <= 1e-4
