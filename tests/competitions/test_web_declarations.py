"""The upload form, the API, `podium submit` and `grader check` take the same declarations
(preset, mean/std, layout), refuse the same contradictions with the same messages, and a declared
layout reaches the worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from competitions.models import Submission
from competitions.services.tokens import token_create
from grader.errors import Rejected
from grader.preprocess import declaration_checked
from testsupport.mnist import fit_logreg
from testsupport.onnx_build import linear_model, raw
from testsupport.web import upload, wait_done

# (preset, mean, std, layout): contradictory or incomplete declarations
CONTRADICTIONS = [
    ("custom", "", "", ""),
    ("unit", "0.5", "0.5", ""),
    ("raw", "", "0.2", ""),
    ("", "0.5", "", ""),
    ("unit", "", "", "chw"),
    ("imagenette", "", "", ""),
]


def _expected(preset: str, mean: str, std: str, layout: str) -> str:
    from grader.adapt import layout_checked

    try:
        declaration_checked(preset, mean, std)
        layout_checked(layout)
    except Rejected as e:
        return e.message
    raise AssertionError("not a contradiction")


def _api(users) -> dict[str, str]:
    _, key = token_create(user=users["alice"])
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def flat_model(mnist_train) -> bytes:
    """A logistic regression on flat (N, 784) inputs: flat_hwc or flat_chw (one channel)."""
    w, b = fit_logreg(mnist_train.images[:1000], mnist_train.labels[:1000], 20)
    return raw(linear_model(w, b, ["N", 784], layout="flat_hwc"))


@pytest.mark.django_db
@pytest.mark.parametrize("declared", CONTRADICTIONS, ids=lambda d: "|".join(d) or "blank")
def test_every_interface_refuses_a_contradiction_with_the_same_message(
    declared, users, competition, models, tmp_path, monkeypatch, capsys
) -> None:
    preset, mean, std, layout = declared
    message = _expected(*declared)
    fields = {"preprocess": preset, "mean": mean, "std": std, "layout": layout}

    client = Client()
    client.force_login(users["alice"])
    url = reverse("competitions:submit", args=[competition.slug])
    page = client.post(url, {"file": upload(models["good"]), **fields}, follow=True)
    assert message in page.content.decode().replace("&#x27;", "'")

    api_url = f"/api/competitions/{competition.slug}/submissions"
    response = client.post(api_url, {"file": upload(models["good"]), **fields}, headers=_api(users))
    assert response.status_code == 400
    assert response.json()["message"] == message
    assert response.json()["code"] in ("bad_preprocess", "bad_layout")
    assert not Submission.objects.exists()

    from podium_client.cli import main as podium

    model = tmp_path / "m.onnx"
    model.write_bytes(models["good"])
    monkeypatch.setenv("PODIUM_URL", "http://127.0.0.1:9")  # never reached: refused here
    monkeypatch.setenv("PODIUM_TOKEN", "unused")
    argv = ["submit", str(model), "-c", competition.slug, "--preprocess", preset]
    argv += ["--mean", mean, "--std", std, "--layout", layout]
    assert podium(argv) == 2
    assert message in capsys.readouterr().err

    if not layout and preset != "imagenette":  # `grader check` has choices (argparse refuses)
        from grader.cli import main as grader_check

        check = ["check", str(model), "--mean", mean, "--std", std]
        assert grader_check(check + (["--preprocess", preset] if preset else [])) == 2
        assert message in capsys.readouterr().err


@pytest.mark.django_db
def test_the_form_stores_the_declared_layout_and_custom_values(
    users, competition, flat_model
) -> None:
    client = Client()
    client.force_login(users["alice"])
    url = reverse("competitions:submit", args=[competition.slug])
    fields = {"preprocess": "custom", "mean": "0.1", "std": "0.5", "layout": "flat_chw"}
    assert client.post(url, {"file": upload(flat_model), **fields}).status_code == 302
    sub = Submission.objects.get()
    assert (sub.preprocess, sub.mean, sub.std, sub.layout) == ("custom", [0.1], [0.5], "flat_chw")


@pytest.mark.django_db
def test_the_api_refuses_unknown_fields_with_422(users, competition, flat_model) -> None:
    url = f"/api/competitions/{competition.slug}/submissions"
    body = {"file": upload(flat_model), "layuot": "flat_chw"}
    response = Client().post(url, body, headers=_api(users))
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert "'layuot'" in response.json()["message"]
    assert response.json()["errors"][0]["loc"] == ["form", "layuot"]
    assert not Submission.objects.exists()


@pytest.mark.django_db
def test_a_layout_the_model_cannot_take_is_refused_at_upload(
    users, competition, flat_model
) -> None:
    url = f"/api/competitions/{competition.slug}/submissions"
    body = {"file": upload(flat_model), "layout": "nchw"}
    response = Client().post(url, body, headers=_api(users))
    assert response.status_code == 400 and response.json()["code"] == "bad_layout"
    assert "(N, 784)" in response.json()["message"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_layout_declared_through_the_api_reaches_the_worker(
    users, competition, flat_model, celery_worker
) -> None:
    url = f"/api/competitions/{competition.slug}/submissions"
    body = {"file": upload(flat_model), "layout": "flat_chw"}
    response = Client().post(url, body, headers=_api(users))
    assert response.status_code == 201, response.content
    sub = wait_done(response.json()["id"])
    assert sub.status == "scored", (sub.error_code, sub.error_message)
    assert sub.layout == "flat_chw" and sub.result["layout"] == "flat_chw"


def test_podium_submit_sends_the_layout_only_when_declared(monkeypatch, tmp_path: Path) -> None:
    from podium_client import api

    sent: list[dict[str, str]] = []
    monkeypatch.setattr(api, "Upload", lambda fields, *a: sent.append(fields))
    monkeypatch.setattr(api, "call", lambda *a, **kw: {})
    monkeypatch.setenv("PODIUM_TOKEN", "t")
    model = tmp_path / "m.onnx"
    model.write_bytes(b"x")
    api.submit(model, competition="c", layout="flat_chw", wait=False)
    api.submit(model, competition="c", preprocess="unit", wait=False)
    assert sent[0]["layout"] == "flat_chw" and "layout" not in sent[1]
