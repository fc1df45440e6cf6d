"""The staff audit log: every staff action recorded with who, when, what and why; append-only;
the course's instructors see it filtered, a student sees the entries about their submissions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from competitions.models import AuditEntry, Competition, Submission
from competitions.models_audit import AppendOnly
from competitions.services.competitions import competition_update
from competitions.services.standings import standing_refresh_for
from competitions.services.submissions import submission_create
from testsupport.web import upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_sub(users, competition, models):
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    Submission.objects.filter(pk=sub.pk).update(status="scored", public_score=0.9)
    standing_refresh_for(submission=sub)
    return sub


def _as(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _act(client: Client, sub, action: str, reason: str = ""):
    url = reverse("competitions:submission_action", args=[sub.pk, action])
    return client.post(url, {"reason": reason})


def test_each_staff_action_is_recorded_with_who_what_and_why(users, competition, alice_sub):
    teacher = _as(users["teacher"])
    _act(teacher, alice_sub, "disqualify", "copied from bob")
    _act(teacher, alice_sub, "requalify", "it was a misunderstanding")
    _act(teacher, alice_sub, "hide", "test upload")
    _act(teacher, alice_sub, "unhide")
    Submission.objects.filter(pk=alice_sub.pk).update(status="scored")
    _act(teacher, alice_sub, "rescore", "engine fix")
    slug = competition.slug
    teacher.post(reverse("competitions:competition_action", args=[slug, "rescore_all"]))
    teacher.post(
        reverse("competitions:competition_action", args=[slug, "close"]), {"reason": "deadline"}
    )
    got = list(AuditEntry.objects.order_by("at", "id").values_list("action", "actor", "reason"))
    assert got == [
        ("disqualify", "teacher", "copied from bob"),
        ("requalify", "teacher", "it was a misunderstanding"),
        ("hide", "teacher", "test upload"),
        ("unhide", "teacher", ""),
        ("rescore", "teacher", "engine fix"),
        ("rescore_all", "teacher", ""),
        ("close", "teacher", "deadline"),
    ]
    first = AuditEntry.objects.order_by("at", "id").first()
    assert first is not None
    assert first.subject == "alice" and first.submission_id == str(alice_sub.pk)
    assert first.competition == competition.title and first.course_id == competition.course_id
    assert timezone.now() - first.at < dt.timedelta(minutes=5)


def test_edits_record_what_changed(users, competition):
    closes = competition.closes_at + dt.timedelta(days=2)
    competition_update(
        competition=competition,
        user=users["teacher"],
        values={"closes_at": closes, "daily_limit": 5, "title": competition.title},
    )
    entry = AuditEntry.objects.get(action="edit")
    assert set(entry.details) == {"closes_at", "daily_limit"}
    assert entry.details["daily_limit"] == ["3", "5"]


def test_roster_import_and_invitation_resend_are_recorded(users, course, mailoutbox):
    from django.core.files.uploadedfile import SimpleUploadedFile

    teacher = _as(users["teacher"])
    f = SimpleUploadedFile("r.csv", b"username,email\nnewbie,newbie@example.org\n")
    teacher.post(reverse("competitions:roster", args=[course.slug]), {"csv_file": f})
    pk = get_user_model().objects.get(username="newbie").pk
    teacher.post(reverse("competitions:roster_resend", args=[course.slug, pk]))
    got = list(AuditEntry.objects.order_by("id").values_list("action", "actor"))
    assert got == [("roster", "teacher"), ("invite", "teacher")]
    assert AuditEntry.objects.get(action="roster").details["created"] == ["newbie"]


def test_entries_cannot_be_changed_or_deleted_and_outlive_what_they_describe(
    users, competition, alice_sub
):
    _act(_as(users["teacher"]), alice_sub, "disqualify", "copied")
    entry = AuditEntry.objects.get()
    entry.reason = "nothing happened"
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).update(reason="x")
    with pytest.raises(AppendOnly):
        AuditEntry.objects.all().delete()
    with pytest.raises(AppendOnly):
        entry.delete()
    Competition.objects.filter(pk=competition.pk).delete()  # cascades to the submission
    kept = AuditEntry.objects.get()
    assert kept.reason == "copied" and kept.competition == competition.title


def test_the_student_sees_the_reason_on_their_submission_only(users, competition, alice_sub):
    _act(_as(users["teacher"]), alice_sub, "disqualify", "copied from bob")
    page = _as(users["alice"]).get(reverse("competitions:submission", args=[alice_sub.pk]))
    html = page.content.decode()
    assert 'id="staff-actions"' in html and "copied from bob" in html
    assert "teacher disqualified a submission" in html
    bob = _as(users["bob"]).get(reverse("competitions:submission", args=[alice_sub.pk]))
    assert bob.status_code == 404


def test_course_log_is_for_its_instructors_and_filters(users, competition, alice_sub):
    teacher = _as(users["teacher"])
    _act(teacher, alice_sub, "hide", "spam")
    _act(teacher, alice_sub, "disqualify", "copied")
    url = reverse("competitions:audit", args=[competition.course.slug])
    everything = teacher.get(url).content.decode()
    assert "spam" in everything and "copied" in everything
    only = teacher.get(url, {"action": "disqualify", "subject": "alice"}).content.decode()
    assert "copied" in only and "spam" not in only
    none = teacher.get(url, {"actor": "nobody"}).content.decode()
    assert "Nothing recorded with these filters" in none
    assert _as(users["alice"]).get(url).status_code == 404


def test_a_reason_the_database_cannot_store_refuses_the_action(users, competition, alice_sub):
    r = _act(_as(users["teacher"]), alice_sub, "disqualify", "bad\x00reason")
    assert r.status_code == 302
    assert not Submission.objects.get(pk=alice_sub.pk).disqualified
    assert not AuditEntry.objects.exists()
