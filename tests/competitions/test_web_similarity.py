"""Similarity signals (issue 15), graded by the real grading path: the same file, the same
weights renamed and reordered, a baseline handed in as a student's, and a lightly perturbed copy
(shared wrong answers), while independently trained models are not flagged. Instructors only."""

from __future__ import annotations

import numpy as np
import pytest
from django.urls import reverse
from onnx import helper

from competitions.selectors.similarity import binomial_sf, similarity_pairs
from competitions.services.grading import submission_grade
from competitions.services.submissions import baseline_create, submission_create
from testsupport.mnist import fit_logreg, logreg_onnx, mnist_dir, mnist_io_model, tensor
from testsupport.web import upload

pytestmark = pytest.mark.django_db


def _renamed(w: np.ndarray, b: np.ndarray) -> bytes:
    """The same weights under other names, listed in the other order."""
    nodes = [
        helper.make_node("Flatten", ["input"], ["x"], axis=1),
        helper.make_node("Gemm", ["x", "kernel_0", "bias_0"], ["z"]),
        helper.make_node("Softmax", ["z"], ["output"], axis=1),
    ]
    return mnist_io_model(nodes, [tensor("bias_0", b), tensor("kernel_0", w)], "renamed")


def _graded(user, competition, data: bytes, name: str = "m.onnx"):
    sub = submission_create(user=user, competition=competition, upload=upload(data, name))
    assert submission_grade(submission_id=sub.pk) == "scored"
    return sub


def test_binomial_tail():
    assert binomial_sf(0, 10, 0.3) == 1.0
    assert binomial_sf(10, 10, 0.5) == pytest.approx(0.5**10)
    assert binomial_sf(3, 4, 0.5) == pytest.approx(5 / 16)


@pytest.fixture
def full_mnist(competition):
    """The competition on the whole MNIST test set: a copy's shared errors number in the
    hundreds there, enough for a strict test (a few dozen on 400 images are not)."""
    from competitions.services.datasets import dataset_import

    competition.dataset = dataset_import(path=mnist_dir(), name="MNIST test")
    competition.save()
    return competition


def test_copies_are_flagged_and_independent_models_are_not(client, users, full_mnist, mnist_train):
    competition = full_mnist
    imgs, lbls = mnist_train.images, mnist_train.labels

    def fit(lo: int, hi: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        return fit_logreg(imgs[lo:hi], lbls[lo:hi], 60, seed=seed)

    # Calibration: two baselines trained independently (disjoint data), as reference models are.
    for i, (lo, hi) in enumerate(((300, 600), (600, 900))):
        base = baseline_create(
            user=users["teacher"],
            competition=competition,
            upload=upload(logreg_onnx(*fit(lo, hi, 10 + i))),
            label=f"b{i}",
        )
        assert submission_grade(submission_id=base.pk) == "scored"
    w, b = fit(0, 300, 1)
    original = logreg_onnx(w, b)
    alice = _graded(users["alice"], competition, original, "mine.onnx")
    bob = _graded(users["bob"], competition, original, "also-mine.onnx")  # the same file
    carol_w = w + np.random.default_rng(9).normal(0, 1e-3, w.shape).astype(np.float32)
    carol = _graded(users["carol"], competition, logreg_onnx(carol_w, b))  # perturbed copy
    teacher = _graded(users["teacher"], competition, _renamed(w, b))  # renamed, reordered
    apart = _graded(users["bob"], competition, logreg_onnx(*fit(900, 1000, 7)))  # trained apart

    pairs, p0, source = similarity_pairs(competition=competition)
    found = {(p.signal, frozenset((p.a.pk, p.b.pk))) for p in pairs}
    assert "baselines" in source and 0.5 < p0 < 0.95, p0
    assert ("same_file", frozenset((alice.pk, bob.pk))) in found
    assert ("same_weights", frozenset((alice.pk, teacher.pk))) in found
    assert ("same_errors", frozenset((alice.pk, carol.pk))) in found
    assert not any(apart.pk in pair for _, pair in found), pairs  # trained independently

    copy = _graded(users["carol"], competition, logreg_onnx(*fit(300, 600, 10)), "b.onnx")
    pairs, _, _ = similarity_pairs(competition=competition)
    assert any(p.signal == "baseline_copy" and copy.pk in (p.a.pk, p.b.pk) for p in pairs)

    url = reverse("competitions:similarity", args=[competition.slug])
    client.force_login(users["alice"])
    assert client.get(url).status_code == 404  # never shown to students
    client.force_login(users["teacher"])
    page = client.get(url).content.decode()
    assert 'data-signal="same_file"' in page and "the same weights in a different file" in page
