"""Exceptions (a later deadline, extra submissions), late work under a penalty policy, and the
rule that nothing the close reveals shows before the last deadline anyone has."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from competitions.errors import QuotaExceeded, Refused
from competitions.models import AuditEntry, Competition, Submission
from competitions.services.exceptions import extension_grant
from competitions.services.standings import standing_refresh_for
from competitions.services.submissions import submission_create
from testsupport.web import upload, wait_done

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)


def _as(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _past_deadline(competition: Competition, by: dt.timedelta = HOUR) -> None:
    """Move the deadline into the past (by `by`) the way an edit would."""
    from competitions.services.exceptions import competition_deadline_refresh

    Competition.objects.filter(pk=competition.pk).update(
        opens_at=timezone.now() - 10 * 24 * HOUR, closes_at=timezone.now() - by
    )
    competition.refresh_from_db()
    competition_deadline_refresh(competition=competition)


def _scored(sub: Submission, public: float, private: float) -> None:
    Submission.objects.filter(pk=sub.pk).update(
        status="scored", public_score=public, private_score=private
    )
    standing_refresh_for(submission=sub)


def test_extension_lets_one_student_submit_after_the_deadline(users, competition, models):
    _past_deadline(competition)
    extension_grant(
        competition=competition,
        user=users["alice"],
        actor=users["teacher"],
        reason="medical certificate",
        closes_at=timezone.now() + 2 * HOUR,
    )
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    assert sub.late_days == 0
    with pytest.raises(Refused, match="deadline .* has passed"):
        submission_create(user=users["bob"], competition=competition, upload=upload(models["good"]))
    page = _as(users["alice"]).get(reverse("competitions:detail", args=[competition.slug]))
    html = page.content.decode()
    assert 'id="my-extension"' in html and "medical certificate" in html
    assert 'id="submit-form"' in html
    bob_page = _as(users["bob"]).get(reverse("competitions:detail", args=[competition.slug]))
    assert 'id="submit-form"' not in bob_page.content.decode()
    entry = AuditEntry.objects.get(action="exception")
    assert entry.reason == "medical certificate" and entry.details["for"] == "alice"


def test_extra_submissions_raise_only_that_students_quota(users, competition, models):
    Competition.objects.filter(pk=competition.pk).update(daily_limit=1)
    competition.refresh_from_db()
    extension_grant(
        competition=competition,
        user=users["alice"],
        actor=users["teacher"],
        reason="lost uploads in the outage",
        extra_daily=1,
    )
    for _ in range(2):
        submission_create(
            user=users["alice"], competition=competition, upload=upload(models["good"])
        )
    with pytest.raises(QuotaExceeded, match="Daily limit of 2"):
        submission_create(
            user=users["alice"], competition=competition, upload=upload(models["good"])
        )
    submission_create(user=users["bob"], competition=competition, upload=upload(models["good"]))
    with pytest.raises(QuotaExceeded, match="Daily limit of 1"):
        submission_create(user=users["bob"], competition=competition, upload=upload(models["good"]))


def test_an_exception_needs_a_reason_and_something_to_grant(users, competition):
    kw = {"competition": competition, "user": users["alice"], "actor": users["teacher"]}
    with pytest.raises(Refused, match="Say why"):
        extension_grant(**kw, reason=" ", extra_total=1)
    with pytest.raises(Refused, match="later than the competition's"):
        extension_grant(**kw, reason="x", closes_at=competition.closes_at - HOUR)
    with pytest.raises(Refused, match="a later deadline or extra submissions"):
        extension_grant(**kw, reason="x")


def test_private_results_wait_for_the_last_extension(users, competition, models):
    alice = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    _scored(alice, 0.8, 0.7)
    _past_deadline(competition)
    extension_grant(
        competition=competition,
        user=users["bob"],
        actor=users["teacher"],
        reason="exchange student, travelling",
        closes_at=timezone.now() + 2 * HOUR,
    )
    assert not competition.is_finished()
    board = _as(users["alice"]).get(reverse("competitions:leaderboard", args=[competition.slug]))
    assert "0.7000" not in board.content.decode()  # private score still hidden
    page = _as(users["alice"]).get(reverse("competitions:submission", args=[alice.pk]))
    assert "0.7000" not in page.content.decode()
    # Once bob's extended deadline has passed too, the close reveals them.
    Competition.objects.filter(pk=competition.pk).update(last_deadline=timezone.now() - HOUR)
    competition.refresh_from_db()
    assert competition.is_finished()
    board = _as(users["alice"]).get(reverse("competitions:leaderboard", args=[competition.slug]))
    assert "0.7000" in board.content.decode()


def test_late_work_under_a_penalty_policy_is_marked_and_graded_down(users, competition, models):
    Competition.objects.filter(pk=competition.pk).update(
        late_policy="penalty",
        late_penalty_pct=10,
        late_days_max=3,
        grade_policy={"kind": "thresholds", "steps": [[0.5, 100]], "none": 0},
    )
    competition.refresh_from_db()
    _past_deadline(competition, by=30 * HOUR)  # 1 day and 6 hours late: 2 started days
    page = _as(users["alice"]).get(reverse("competitions:detail", args=[competition.slug]))
    assert "a submission now is 2 days late" in page.content.decode()
    late = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    assert late.late_days == 2
    _scored(late, 0.9, 0.9)
    Competition.objects.filter(pk=competition.pk).update(last_deadline=timezone.now() - HOUR)
    teacher = _as(users["teacher"])
    board = teacher.get(reverse("competitions:leaderboard", args=[competition.slug]))
    assert "late 2d" in board.content.decode()
    grades = teacher.get(reverse("competitions:export_grades", args=[competition.slug]))
    rows = {r["username"]: r for r in csv.DictReader(io.StringIO(grades.content.decode()))}
    assert rows["alice"]["late_days"] == "2" and rows["alice"]["grade"] == "80.0"
    assert rows["bob"]["grade"] == "0.0" and rows["bob"]["final_private_score"] == ""
    assert "no scored entry → 0" in rows["bob"]["grade_policy"]
    assert rows["alice"]["rank_counts_baselines"] == "no"
    standings = teacher.get(reverse("competitions:export_standings", args=[competition.slug]))
    assert list(csv.DictReader(io.StringIO(standings.content.decode())))[0]["late_days"] == "2"


def test_late_work_after_the_window_or_under_refuse_is_refused(users, competition, models):
    _past_deadline(competition)
    with pytest.raises(Refused, match="the deadline .* has passed"):
        submission_create(
            user=users["alice"], competition=competition, upload=upload(models["good"])
        )
    Competition.objects.filter(pk=competition.pk).update(late_policy="penalty", late_days_max=1)
    competition.refresh_from_db()
    _past_deadline(competition, by=25 * HOUR)
    with pytest.raises(Refused, match="and the late window has passed"):
        submission_create(
            user=users["alice"], competition=competition, upload=upload(models["good"])
        )


def test_instructor_grants_an_exception_from_the_page(users, competition):
    teacher = _as(users["teacher"])
    url = reverse("competitions:exceptions", args=[competition.slug])
    later = timezone.localtime(competition.closes_at + 24 * HOUR).strftime("%Y-%m-%dT%H:%M")
    r = teacher.post(
        url,
        {
            "username": "alice",
            "closes_at": later,
            "extra_daily": 0,
            "extra_total": 2,
            "reason": "illness",
        },
        follow=True,
    )
    assert "Exception granted to alice" in r.content.decode()
    competition.refresh_from_db()
    assert competition.last_deadline is not None
    assert competition.last_deadline > competition.closes_at + 23 * HOUR
    unknown = teacher.post(url, {"username": "carol", "extra_total": 1, "reason": "x"})
    assert "No student of this competition" in unknown.content.decode()
    assert _as(users["alice"]).get(url).status_code == 404


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_late_submission_is_graded_by_the_worker_and_keeps_its_days(
    users, competition, models, celery_worker
):
    Competition.objects.filter(pk=competition.pk).update(late_policy="penalty", late_days_max=2)
    competition.refresh_from_db()
    _past_deadline(competition)
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    sub = wait_done(sub.pk)
    assert sub.status == "scored" and sub.late_days == 1, (sub.error_code, sub.log)
