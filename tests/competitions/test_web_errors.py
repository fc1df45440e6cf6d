"""One owner for error codes: the registry fixes each code's status, the API documents the same
table, and every API error has the same JSON shape."""

from __future__ import annotations

import re

import pytest
from django.conf import settings

from competitions.errors import ERRORS, NotAllowed, Refused, ServiceError
from competitions.services.tokens import token_create
from testsupport.web import upload


def _documented() -> dict[str, int]:
    text = (settings.BASE_DIR / "docs" / "API.md").read_text()
    section = text.split("## Errors", 1)[1]
    return {c: int(s) for c, s in re.findall(r"^\| `(\w+)` \| (\d{3}) \|", section, re.M)}


def test_the_api_documentation_lists_every_registered_code_with_its_status():
    assert _documented() == {code: e.status for code, e in ERRORS.items()}


def test_a_code_has_its_registered_status_whatever_class_raises_it():
    assert Refused("closed").status == NotAllowed("closed").status == 400
    assert ServiceError("not_yours").status == 403
    assert Refused("daily_quota").status == 429
    assert Refused("external_data", "engine text").status == 400  # an engine refusal
    assert Refused("closed").message == ERRORS["closed"].message  # the default message


def _shape(response, status, code):
    body = response.json()
    assert response.status_code == status, body
    assert body["code"] == code and isinstance(body["message"], str) and body["message"]
    return body


@pytest.mark.django_db
def test_api_errors_share_one_shape(client, users, competition, monkeypatch):
    _shape(client.get("/api/competitions"), 401, "unauthorized")
    bad = client.post("/api/tokens", {"username": "alice", "password": "no"}, "application/json")
    _shape(bad, 401, "bad_credentials")
    _, key = token_create(user=users["alice"], name="t")
    auth = {"Authorization": f"Bearer {key}"}
    _shape(client.get("/api/competitions/nope", headers=auth), 404, "not_found")
    missing_file = client.post(f"/api/competitions/{competition.slug}/submissions", headers=auth)
    assert _shape(missing_file, 422, "validation_error")["errors"]
    url = f"/api/competitions/{competition.slug}/submissions"
    bad_mean = client.post(url, {"file": upload(b"x"), "mean": "a,b"}, headers=auth)
    _shape(bad_mean, 400, "bad_preprocess")

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("competitions.api.leaderboard_get", broken)
    crashed = client.get(f"/api/competitions/{competition.slug}/leaderboard", headers=auth)
    assert "boom" not in _shape(crashed, 500, "internal_error")["message"]
