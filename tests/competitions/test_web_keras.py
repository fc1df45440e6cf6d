"""Keras files uploaded as `model.save` wrote them, through the API and the web form, graded by a
real Celery worker: the predictions are the ones Keras itself made (recorded in the fixtures)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse

from competitions.dataset_cache import dataset_load
from competitions.models import Submission
from competitions.services.tokens import token_create
from testsupport.web import upload, wait_done

pytestmark = [pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "grader" / "keras_fixtures"


def _keras_classes(n: int) -> np.ndarray:
    """The class real Keras predicted for each of the first n MNIST test images."""
    return np.load(FIXTURES / "expected.npz")["mnist.test_classes"][:n].astype(np.int64)


def _api(users) -> dict[str, str]:
    _, key = token_create(user=users["alice"])
    return {"Authorization": f"Bearer {key}"}


def _allow_keras(competition) -> None:
    competition.allowed_formats = ["onnx", "npz", "keras"]
    competition.save(update_fields=["allowed_formats"])


def _assert_graded_as_keras(sub: Submission, competition) -> None:
    assert sub.status == "scored", (sub.error_code, sub.error_message, sub.log)
    assert sub.file_format == "keras"
    labels = dataset_load(record=competition.dataset).labels
    preds = np.frombuffer(bytes(sub.predictions), dtype=np.int16).astype(np.int64)
    keras = _keras_classes(len(labels))
    assert (preds == keras).all()
    assert sub.result["accuracy"] == pytest.approx(float((keras == labels).mean()))


@pytest.mark.slow
def test_api_upload_of_a_tf_keras_h5_is_graded_as_keras_predicts(users, competition, celery_worker):
    _allow_keras(competition)
    url = f"/api/competitions/{competition.slug}/submissions"
    data = (FIXTURES / "mnist_tfkeras.h5").read_bytes()
    response = Client().post(url, {"file": upload(data, "model.h5")}, headers=_api(users))
    assert response.status_code in (200, 201, 202), response.content
    sub = wait_done(Submission.objects.get(user=users["alice"]).pk)
    _assert_graded_as_keras(sub, competition)


@pytest.mark.slow
def test_web_form_upload_of_an_hdf5_named_keras_is_graded_as_keras_predicts(
    client, users, competition, celery_worker
):
    _allow_keras(competition)
    client.force_login(users["alice"])
    data = (FIXTURES / "mnist_h5_named.keras").read_bytes()
    response = client.post(
        reverse("competitions:submit", args=[competition.slug]),
        {"file": upload(data, "model.keras"), "note": "keras"},
    )
    assert response.status_code == 302
    sub = wait_done(Submission.objects.get(user=users["alice"]).pk)
    _assert_graded_as_keras(sub, competition)
    page = client.get(reverse("competitions:submission", args=[sub.pk])).content.decode()
    assert "conv2d" in page  # the summary names the Keras layers


def test_api_refuses_a_lambda_layer_with_the_reason_and_records_nothing(users, competition):
    _allow_keras(competition)
    url = f"/api/competitions/{competition.slug}/submissions"
    data = (FIXTURES / "refused" / "lambda.keras").read_bytes()
    response = Client().post(url, {"file": upload(data, "model.keras")}, headers=_api(users))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "keras_unsupported" and "Lambda" in body["message"]
    assert not Submission.objects.exists()


def test_a_competition_without_keras_refuses_a_keras_file(users, competition):
    url = f"/api/competitions/{competition.slug}/submissions"
    data = (FIXTURES / "mnist_k3.keras").read_bytes()
    response = Client().post(url, {"file": upload(data, "model.keras")}, headers=_api(users))
    assert response.status_code == 400
    assert response.json() == {"code": "bad_format", "message": "Upload a .onnx or .npz file."}


def test_keras_upload_names_list_both_extensions(users, competition):
    competition.allowed_formats = ["keras"]
    competition.save(update_fields=["allowed_formats"])
    url = f"/api/competitions/{competition.slug}/submissions"
    response = Client().post(url, {"file": upload(b"x", "model.onnx")}, headers=_api(users))
    assert response.json()["message"] == "Upload a .keras/.h5/.hdf5 file."


@pytest.mark.slow
def test_podium_submit_of_a_keras_file_is_graded_as_keras_predicts(
    live_server, users, competition, celery_worker, tmp_path
):
    _allow_keras(competition)
    _, key = token_create(user=users["alice"])
    model = tmp_path / "my cnn.keras"
    model.write_bytes((FIXTURES / "mnist_k3.keras").read_bytes())
    env = dict(
        os.environ, PODIUM_TOKEN=key, PODIUM_URL=live_server.url, XDG_CONFIG_HOME=str(tmp_path)
    )
    args = ["submit", str(model), "--competition", competition.slug, "--poll", "0.3"]
    run = subprocess.run(
        [sys.executable, "-m", "competitions.cli", *args, "--timeout", "90"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "status: scored" in run.stdout
    sub = Submission.objects.get(user=users["alice"])
    _assert_graded_as_keras(sub, competition)
    assert f"{sub.public_score:.4f}" in run.stdout
