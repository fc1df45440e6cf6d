"""Pages, permissions (404 not 403), private scores, CSRF, API and exports."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from competitions.dataset_cache import dataset_load
from competitions.models import Competition, Submission
from competitions.services.standings import standing_refresh_for
from competitions.services.submissions import submission_create
from competitions.services.tokens import token_create
from testsupport.web import upload

pytestmark = pytest.mark.django_db


def _scored(sub, public=0.81, private=0.77):
    Submission.objects.filter(pk=sub.pk).update(
        status="scored",
        public_score=public,
        private_score=private,
        params=7850,
        public_scores={
            "accuracy": public,
            "per_class_accuracy": [0.5] * 10,
            "macro_f1": 0.5,
            "confusion": [[1] * 10] * 10,
            "log_loss": None,
        },
        private_scores={"accuracy": private},
    )
    standing_refresh_for(submission=sub)  # the update above bypasses the grading service
    sub.refresh_from_db()
    return sub


@pytest.fixture
def alice_sub(users, competition, models):
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    return _scored(sub)


def test_others_submissions_are_404(client, users, alice_sub):
    client.force_login(users["bob"])
    for name in ("submission", "submission_status", "gallery"):
        assert client.get(reverse(f"competitions:{name}", args=[alice_sub.pk])).status_code == 404
    assert client.get("/s/not-a-uuid/").status_code == 404
    assert (
        client.post(reverse("competitions:submission_choose", args=[alice_sub.pk])).status_code
        == 404
    )
    assert (
        client.post(
            reverse("competitions:submission_action", args=[alice_sub.pk, "hide"])
        ).status_code
        == 404
    )
    client.force_login(users["alice"])
    assert client.get(reverse("competitions:submission", args=[alice_sub.pk])).status_code == 200


def test_api_hides_others_submissions_exactly_like_missing_ones(client, users, alice_sub):
    _, bob = token_create(user=users["bob"])
    auth = {"Authorization": f"Bearer {bob}"}
    theirs = client.get(f"/api/submissions/{alice_sub.pk}", headers=auth)
    missing = client.get("/api/submissions/00000000-0000-0000-0000-000000000000", headers=auth)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["code"] == missing.json()["code"] == "not_found"
    assert "0.81" not in theirs.content.decode()  # nothing of the object leaks
    assert client.get(f"/api/submissions/{alice_sub.pk}").status_code == 401  # no token
    _, alice = token_create(user=users["alice"])
    mine = client.get(
        f"/api/submissions/{alice_sub.pk}", headers={"Authorization": f"Bearer {alice}"}
    )
    assert mine.status_code == 200 and mine.json()["public_score"] == 0.81


def test_course_competition_hidden_from_outsiders(client, users, competition):
    client.force_login(users["carol"])  # not enrolled
    assert client.get(reverse("competitions:detail", args=[competition.slug])).status_code == 404
    assert (
        client.get(reverse("competitions:leaderboard", args=[competition.slug])).status_code == 404
    )
    assert competition.title not in client.get("/").content.decode()
    client.logout()
    # Logged out: the login page (then the competition), for a slug that does not exist too,
    # so the redirect reveals nothing.
    for slug in (competition.slug, "no-such-competition"):
        response = client.get(reverse("competitions:detail", args=[slug]))
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next=/c/{slug}/"


def test_students_get_404_on_instructor_pages(client, users, competition):
    client.force_login(users["alice"])
    for url in (
        reverse("competitions:teach"),
        reverse("competitions:submissions", args=[competition.slug]),
        reverse("competitions:export_grades", args=[competition.slug]),
        reverse("competitions:export_standings", args=[competition.slug]),
        reverse("competitions:dataset_preview", args=[competition.dataset.pk]),
    ):
        assert client.get(url).status_code == 404, url
    url = reverse("competitions:competition_action", args=[competition.slug, "close"])
    assert client.post(url).status_code == 404
    competition.refresh_from_db()
    assert not competition.closed


def test_private_scores_only_after_close(client, users, competition, alice_sub):
    client.force_login(users["alice"])
    page = client.get(reverse("competitions:submission", args=[alice_sub.pk])).content.decode()
    assert "0.8100" in page and "0.7700" not in page
    board = client.get(
        reverse("competitions:leaderboard", args=[competition.slug])
    ).content.decode()
    assert "0.8100" in board and "0.7700" not in board
    assert (
        client.get(reverse("competitions:leaderboard", args=[competition.slug]) + "?split=private")
        .content.decode()
        .count("0.7700")
        == 0
    )
    _, key = token_create(user=users["alice"])
    api = client.get(
        f"/api/submissions/{alice_sub.pk}", headers={"Authorization": f"Bearer {key}"}
    ).json()
    assert api["public_score"] == 0.81 and api["private_score"] is None

    teacher = Client()
    teacher.force_login(users["teacher"])
    url = reverse("competitions:competition_action", args=[competition.slug, "close"])
    assert teacher.post(url).status_code == 302
    board = client.get(
        reverse("competitions:leaderboard", args=[competition.slug])
    ).content.decode()
    assert "0.7700" in board and "Private split" in board
    api = client.get(
        f"/api/submissions/{alice_sub.pk}", headers={"Authorization": f"Bearer {key}"}
    ).json()
    assert api["private_score"] == 0.77


def test_students_see_their_misclassified_images_only_after_close(
    client, users, competition, alice_sub
):
    labels = dataset_load(record=competition.dataset).labels
    preds = np.where(np.arange(len(labels)) % 4 == 0, (labels + 1) % 10, labels).astype(np.int16)
    Submission.objects.filter(pk=alice_sub.pk).update(predictions=preds.tobytes())
    client.force_login(users["alice"])
    gallery = reverse("competitions:gallery", args=[alice_sub.pk])
    assert client.get(gallery).status_code == 404
    Competition.objects.filter(pk=competition.pk).update(
        closes_at=timezone.now() - dt.timedelta(minutes=1)
    )
    page = client.get(gallery)
    assert page.status_code == 200
    n_wrong = int((preds != labels).sum())
    assert f"{n_wrong} of {len(labels)} images are wrong" in page.content.decode()


def test_csrf_enforced_on_forms(users, competition, models):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["alice"])
    url = reverse("competitions:submit", args=[competition.slug])
    assert client.post(url, {"file": upload(models["good"])}).status_code == 403
    page = client.get(reverse("competitions:detail", args=[competition.slug]))
    token = page.cookies["csrftoken"].value
    response = client.post(url, {"file": upload(models["good"]), "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert Submission.objects.filter(user=users["alice"]).count() == 1


def test_refused_upload_message_and_quota_message(client, users, competition, models):
    client.force_login(users["alice"])
    url = reverse("competitions:submit", args=[competition.slug])
    page = client.post(url, {"file": upload(b"not a model")}, follow=True).content.decode()
    assert "Refused:" in page
    competition.daily_limit = 0
    competition.save()
    page = client.post(url, {"file": upload(models["good"])}, follow=True).content.decode()
    assert "resets at" in page


def test_oversized_upload_refused_before_reading(client, users, competition, settings):
    settings.PODIUM_MAX_UPLOAD_MB = 1
    client.force_login(users["alice"])
    url = reverse("competitions:submit", args=[competition.slug])
    response = client.post(url, {"file": upload(b"\0" * (2 * 1024 * 1024))})
    assert response.status_code == 413


def test_api_tokens_competitions_submit_poll_leaderboard(client, users, competition, models):
    assert (
        client.post(
            "/api/tokens",
            {"username": "alice", "password": "wrong"},
            content_type="application/json",
        ).status_code
        == 401
    )
    response = client.post(
        "/api/tokens",
        {"username": "alice", "password": "pw-alice-123"},
        content_type="application/json",
    )
    assert response.status_code == 201
    auth = {"Authorization": f"Bearer {response.json()['token']}"}
    assert client.get("/api/competitions").status_code == 401
    slugs = [c["slug"] for c in client.get("/api/competitions", headers=auth).json()]
    assert slugs == [competition.slug]
    url = f"/api/competitions/{competition.slug}/submissions"
    bad = client.post(url, {"file": upload(b"junk")}, headers=auth)
    assert bad.status_code == 400 and bad.json()["code"]
    ok = client.post(url, {"file": upload(models["good"]), "preprocess": "unit"}, headers=auth)
    assert ok.status_code == 201, ok.content
    sid = ok.json()["id"]
    assert client.get(f"/api/submissions/{sid}", headers=auth).json()["status"] == "queued"
    board = client.get(f"/api/competitions/{competition.slug}/leaderboard", headers=auth).json()
    assert board["split"] == "public" and board["rows"] == []
    _, bob_key = token_create(user=users["bob"])
    bob = {"Authorization": f"Bearer {bob_key}"}
    assert client.get(f"/api/submissions/{sid}", headers=bob).status_code == 404
    schema = client.get("/api/openapi.json").json()
    assert "/api/competitions/{slug}/submissions" in schema["paths"]


def test_instructor_pages_and_exports(client, users, competition, alice_sub):
    client.force_login(users["teacher"])
    assert ">Teach<" in client.get("/").content.decode()
    for url in (
        reverse("competitions:teach"),
        reverse("competitions:submissions", args=[competition.slug]),
        reverse("competitions:competition_edit", args=[competition.slug]),
        reverse("competitions:dataset", args=[competition.dataset.pk]),
        reverse("competitions:roster", args=[competition.course.slug]),
        reverse("competitions:dataset_import"),
        reverse("competitions:submission", args=[alice_sub.pk]),
    ):
        assert client.get(url).status_code == 200, url
    preview = client.get(reverse("competitions:dataset_preview", args=[competition.dataset.pk]))
    assert preview["Content-Type"] == "image/png"
    csv_text = client.get(
        reverse("competitions:export_grades", args=[competition.slug])
    ).content.decode()
    assert csv_text.splitlines()[0].startswith("username,email,name,team,final_private_score,rank")
    url = reverse("competitions:submission_action", args=[alice_sub.pk, "disqualify"])
    assert client.post(url).status_code == 302
    alice_sub.refresh_from_db()
    assert alice_sub.disqualified


def test_instructor_creates_competition(client, users, course, dataset):
    client.force_login(users["teacher"])
    now = timezone.localtime()
    data = {
        "course": course.pk,
        "slug": "new-one",
        "title": "New one",
        "description": "d",
        "dataset": dataset.pk,
        "metric": "accuracy",
        "public_fraction": "0.3",
        "split_seed": "5",
        "opens_at": now.strftime("%Y-%m-%dT%H:%M"),
        "closes_at": (now + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
        "daily_limit": 5,
        "total_limit": 50,
        "max_team_size": 1,
        "allowed_formats": ["onnx"],
        "time_limit_s": 60,
        "memory_mb": 2048,
        "visibility": "course",
        "queue": "cpu",
    }
    too_long = client.post(reverse("competitions:competition_new"), {**data, "time_limit_s": 5000})
    most = django_settings.CELERY_TASK_SOFT_TIME_LIMIT - 60
    assert too_long.status_code == 200 and f"Between 1 and {most} s" in too_long.content.decode()
    response = client.post(reverse("competitions:competition_new"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    c = Competition.objects.get(slug="new-one")
    assert c.allowed_formats == ["onnx"] and c.public_fraction == 0.3


def test_public_pages_render(client, users, competition, alice_sub):
    client.force_login(users["alice"])
    assert ">Teach<" not in client.get("/").content.decode()
    page = client.get(reverse("competitions:detail", args=[competition.slug])).content.decode()
    assert "Submit a model" in page and "resets" in page and "model.onnx" in page
    assert client.get(reverse("competitions:tokens")).status_code == 200
    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("password_reset")).status_code == 200
