"""Accounts, teams through the web, public visibility, management commands."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from competitions.models import Competition, HeldOutDataset, Submission, TeamMembership

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_login_and_password_reset_email(client, users):
    response = client.post(reverse("login"), {"username": "alice", "password": "pw-alice-123"})
    assert response.status_code == 302
    client.post(reverse("logout"))
    response = client.post(reverse("password_reset"), {"email": "alice@example.org"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and "/accounts/reset/" in mail.outbox[0].body


def test_team_create_join_leave_through_the_web(client, users, competition):
    client.force_login(users["alice"])
    url = lambda action: reverse("competitions:team", args=[competition.slug, action])  # noqa: E731
    page = client.post(url("create"), {"name": "Owls"}, follow=True).content.decode()
    assert "Share the code" in page
    code = TeamMembership.objects.get(user=users["alice"]).team.join_code
    client.force_login(users["bob"])
    client.post(url("join"), {"code": code})
    assert TeamMembership.objects.filter(team__join_code=code).count() == 2
    page = client.post(url("leave"), follow=True).content.decode()
    assert "You left the team" in page
    client.force_login(users["carol"])  # not in the course: the competition does not exist
    assert client.post(url("join"), {"code": code}).status_code == 404


def test_public_competition_visible_to_anyone(client, users, competition):
    Competition.objects.filter(pk=competition.pk).update(visibility="public")
    assert (
        client.get(reverse("competitions:leaderboard", args=[competition.slug])).status_code == 200
    )
    client.force_login(users["carol"])
    page = client.get(reverse("competitions:detail", args=[competition.slug])).content.decode()
    assert "Submit a model" in page


def test_import_dataset_command(heldout_npz):
    out = io.StringIO()
    call_command("import_dataset", str(heldout_npz), "--name", "cmd", stdout=out)
    ds = HeldOutDataset.objects.get(name="cmd")
    assert ds.n_images == 400 and ds.image_shape == [28, 28, 1] and len(ds.sha256) == 64
    assert ds.sha256 in out.getvalue() and ds.preview
    call_command("import_dataset", str(heldout_npz), "--name", "cmd", stdout=io.StringIO())
    assert HeldOutDataset.objects.count() == 1  # idempotent


@pytest.mark.slow
def test_seed_demo_is_idempotent_and_grades_baselines():
    out = io.StringIO()
    call_command("seed_demo", "--sync", "--baseline", "mnist_logreg", stdout=out)
    text = out.getvalue()
    assert "alice" in text and "podium-alice" in text
    counts = (
        Competition.objects.count(),
        Submission.objects.count(),
        HeldOutDataset.objects.count(),
    )
    assert counts[0] == 2
    subs = Submission.objects.filter(is_baseline=True)
    if (ROOT / "reference" / "models" / "mnist_logreg.onnx").exists():
        assert subs.count() == 1
    from reference import manifest

    expected = {e["name"]: e["test_accuracy"] for e in manifest.entries()}
    for sub in subs:
        assert sub.status == "scored" and sub.public_score > 0.5, sub.error_message
        # The grader's own score over the whole test set, equal to the trainer's evaluation
        # in the manifest (the row is never copied from it).
        assert sub.result["n_images"] == 10000
        assert abs(sub.result["accuracy"] - expected[sub.label]) <= 1e-4, sub.label
    call_command("seed_demo", "--sync", "--baseline", "mnist_logreg", stdout=io.StringIO())
    assert (
        Competition.objects.count(),
        Submission.objects.count(),
        HeldOutDataset.objects.count(),
    ) == counts
