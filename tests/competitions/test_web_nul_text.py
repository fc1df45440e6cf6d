"""Text the database cannot store (NUL, \\x00: PostgreSQL refuses it with a DataError, a 500)
is refused first, in each interface's shape: `bad_text` (400) from the API, a message or form
error on pages. Non-finite mean/std are refused the same way (`bad_preprocess`)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from competitions.errors import Refused
from competitions.models import ApiToken, Submission, Team
from competitions.services.submissions import baseline_create
from competitions.services.tokens import token_create
from testsupport.web import upload

pytestmark = pytest.mark.django_db

NUL_TEXT = "before\x00after"


def _api(users):
    _, key = token_create(user=users["alice"], name="test")
    return {"Authorization": f"Bearer {key}"}


def _logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_api_submission_with_a_nul_in_the_note_is_a_bad_text_400(users, competition, models):
    url = f"/api/competitions/{competition.slug}/submissions"
    body = {"file": upload(models["good"]), "note": NUL_TEXT}
    response = Client().post(url, body, headers=_api(users))
    assert response.status_code == 400
    assert response.json() == {
        "code": "bad_text",
        "message": "note: NUL (\\x00) characters are not allowed.",
    }
    assert not Submission.objects.exists()


@pytest.mark.parametrize("field", ["username", "name"])
def test_api_token_request_with_a_nul_is_a_bad_text_400(users, field):
    body = {"username": "alice", "password": "pw-alice-123", "name": "cli"} | {field: NUL_TEXT}
    response = Client().post("/api/tokens", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "bad_text"
    assert field in response.json()["message"]
    assert not ApiToken.objects.exists()


def test_tokens_page_refuses_a_nul_in_the_token_name(users):
    response = _logged_in(users["alice"]).post(reverse("competitions:tokens"), {"name": NUL_TEXT})
    assert response.status_code == 200
    assert "Refused: name: NUL (\\x00) characters are not allowed." in response.content.decode()
    assert not ApiToken.objects.exists()


def test_submit_page_refuses_a_nul_in_the_note(users, competition, models):
    client = _logged_in(users["alice"])
    url = reverse("competitions:submit", args=[competition.slug])
    page = client.post(url, {"file": upload(models["good"]), "note": NUL_TEXT}, follow=True)
    assert page.status_code == 400  # the form shown again, the error beside the note
    assert "Null characters are not allowed." in page.content.decode()  # Django's form check
    assert not Submission.objects.exists()


@pytest.mark.parametrize(
    ("view", "args", "field"),
    [
        ("competitions:team", ["create"], "name"),
        ("competitions:team", ["join"], "code"),
        ("competitions:course_join", [], "code"),
    ],
)
def test_team_and_course_forms_show_the_error_of_a_nul(users, competition, view, args, field):
    client = _logged_in(users["alice"])
    url = reverse(view, args=[competition.slug, *args] if args else [])
    page = client.post(url, {field: NUL_TEXT}, follow=True)
    assert page.status_code == 200
    assert "Null characters are not allowed." in page.content.decode()  # was silently dropped
    assert not Team.objects.exists()
    assert users["alice"].memberships.count() == 1  # the course fixture's only


def test_login_page_refuses_a_nul_in_the_username(users):
    page = Client().post(reverse("login"), {"username": NUL_TEXT, "password": "x"})
    assert page.status_code == 200
    assert "Null characters are not allowed." in page.content.decode()


def test_roster_import_reports_a_nul_username_and_creates_no_account(users, course):
    roster = "username,email\nnew\x00user,n@example.org\ndave,dave@example.org\n"
    client = _logged_in(users["teacher"])
    csv_file = SimpleUploadedFile("roster.csv", roster.encode(), content_type="text/csv")
    url = reverse("competitions:roster", args=[course.slug])
    page = client.post(url, {"csv_file": csv_file}, follow=True).content.decode()
    assert "line 2: username: NUL (\\x00) characters are not allowed" in page
    assert User.objects.filter(username="dave").exists()
    assert not User.objects.filter(username__startswith="new").exists()


def test_baseline_with_a_nul_in_its_label_is_refused(users, competition, models):
    with pytest.raises(Refused) as refused:
        baseline_create(
            user=users["teacher"],
            competition=competition,
            upload=upload(models["good"]),
            label=NUL_TEXT,
        )
    assert refused.value.code == "bad_text"
    assert not Submission.objects.exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999", "0.5,nan,0.5"])
def test_non_finite_mean_or_std_is_a_bad_preprocess_refusal(users, competition, models, value):
    url = f"/api/competitions/{competition.slug}/submissions"
    for field in ("mean", "std"):
        body = {"file": upload(models["good"]), "preprocess": "custom", "mean": "0.5", "std": "0.5"}
        response = Client().post(url, body | {field: value}, headers=_api(users))
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "bad_preprocess"
        page = _logged_in(users["alice"]).post(
            reverse("competitions:submit", args=[competition.slug]),
            body | {field: value, "file": upload(models["good"])},
            follow=True,
        )
        assert f"{field} must be finite numbers" in page.content.decode()
    assert not Submission.objects.exists()


@pytest.mark.parametrize("path", ["/api/competitions/a%00b", "/api/competitions/a%00b/leaderboard"])
def test_api_competition_slug_with_a_nul_is_not_found(users, path):
    response = Client().get(path, headers=_api(users))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
