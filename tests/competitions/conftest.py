"""Fixtures for the competitions suite (helpers live in testsupport: mnist, web)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from grader.datasets import load_dataset
from testsupport.mnist import N_TEST, fit_logreg, logreg_onnx, mnist_dir


@pytest.fixture(scope="session")
def mnist_train():
    return load_dataset(mnist_dir(), split="train")


@pytest.fixture(scope="session")
def models(mnist_train):
    """Two models of different quality, as ONNX bytes: 'good' (more steps) and 'weak'."""
    imgs, lbls = mnist_train.images[:1000], mnist_train.labels[:1000]
    out = {}
    for name, steps in (("good", 60), ("weak", 3)):
        w, b = fit_logreg(imgs, lbls, steps)
        out[name] = logreg_onnx(w, b)
    return out


@pytest.fixture(scope="session")
def heldout_npz(tmp_path_factory) -> Path:
    """The first N_TEST images of the MNIST test set, as an npz the engine loads."""
    ds = load_dataset(mnist_dir(), split="test")
    sub = ds.subset(np.arange(N_TEST), name="mnist-small")
    path = tmp_path_factory.mktemp("data") / "mnist-small.npz"
    np.savez(path, X=sub.images, y=sub.labels)
    return path


@pytest.fixture
def dataset(db, heldout_npz):
    from competitions.services.datasets import dataset_import

    return dataset_import(path=heldout_npz, name="MNIST small")


@pytest.fixture
def users(db):
    User = get_user_model()
    return {
        name: User.objects.create_user(name, f"{name}@example.org", f"pw-{name}-123")
        for name in ("alice", "bob", "carol", "teacher")
    }


@pytest.fixture
def course(users):
    from competitions.models import Membership
    from competitions.services.courses import course_create

    c = course_create(slug="ml101", name="ML 101", instructor=users["teacher"], code="ML101CODE")
    for name in ("alice", "bob"):
        Membership.objects.create(course=c, user=users[name])
    return c


@pytest.fixture
def competition(course, dataset, users):
    from competitions.models import Competition

    return Competition.objects.create(
        course=course,
        slug="digits",
        title="Digits",
        dataset=dataset,
        opens_at=timezone.now() - dt.timedelta(days=1),
        closes_at=timezone.now() + dt.timedelta(days=7),
        daily_limit=3,
        total_limit=10,
        max_team_size=2,
        allowed_formats=["onnx", "npz"],
        public_fraction=0.5,
        split_seed=7,
        time_limit_s=60,
        created_by=users["teacher"],
    )
