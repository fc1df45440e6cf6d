"""Notifications: one per event and person (idempotent keys), the bell and the list, e-mail by
a real SMTP server with each message sent once, and the result notice from a real worker."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from competitions.models import Competition, Notification, Submission
from competitions.services.exceptions import extension_grant
from competitions.services.notify import (
    notifications_email_send,
    notify_deadlines,
    notify_prefs_set,
    notify_result,
)
from competitions.services.standings import standing_refresh_for
from competitions.services.submissions import (
    competition_close,
    submission_create,
    submission_set_flags,
)
from testsupport.mail import SmtpServer
from testsupport.procs import wait_for
from testsupport.web import upload, wait_done

pytestmark = pytest.mark.django_db


def _as(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def alice_sub(users, competition, models):
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    Submission.objects.filter(pk=sub.pk).update(
        status="scored", public_score=0.9, private_score=0.88, attempts=1
    )
    standing_refresh_for(submission=sub)
    return sub


def test_a_result_is_notified_once_however_often_it_is_reported(users, alice_sub):
    notify_result(submission_id=str(alice_sub.pk))
    notify_result(submission_id=str(alice_sub.pk))  # a redelivered task
    (n,) = Notification.objects.filter(user=users["alice"])
    assert n.kind == "scored" and "scored 0.9000" in n.title and n.email_wanted


def test_students_can_stop_result_emails_but_keep_the_list(users, alice_sub):
    notify_prefs_set(user=users["alice"], results_by_email=False)
    notify_result(submission_id=str(alice_sub.pk))
    n = Notification.objects.get(user=users["alice"])
    assert not n.email_wanted


def test_disqualification_and_exception_reach_the_student_with_the_reason(
    users, competition, alice_sub
):
    submission_set_flags(
        submission=alice_sub, disqualified=True, actor=users["teacher"], reason="copied"
    )
    extension_grant(
        competition=competition,
        user=users["alice"],
        actor=users["teacher"],
        reason="illness",
        extra_total=2,
    )
    got = {n.kind: n for n in Notification.objects.filter(user=users["alice"])}
    assert "was disqualified" in got["flagged"].title and "Reason: copied" in got["flagged"].body
    assert (
        "2 more submissions in all" in got["exception"].body and "illness" in got["exception"].body
    )


def test_reminder_24h_before_close_only_to_students_without_a_scored_entry(
    users, competition, alice_sub
):
    Competition.objects.filter(pk=competition.pk).update(
        closes_at=timezone.now() + dt.timedelta(hours=12)
    )
    assert notify_deadlines()["reminders"] == 1
    assert notify_deadlines()["reminders"] == 0  # the next pass sends nothing again
    (n,) = Notification.objects.filter(kind="reminder")
    assert n.user == users["bob"] and "closes in less than 24 hours" in n.title


def test_final_standings_after_the_close_once(users, competition, alice_sub):
    competition_close(competition=competition, actor=users["teacher"])
    assert notify_deadlines()["finals"] == 2  # alice (ranked) and bob (no scored entry)
    assert notify_deadlines()["finals"] == 0
    finals = {n.user.username: n.body for n in Notification.objects.filter(kind="final")}
    assert finals["alice"].startswith("rank 1 of 1, private score 0.8800")
    assert finals["bob"].startswith("no scored entry")


def test_bell_counts_unread_and_the_list_marks_them_read(users, alice_sub):
    notify_result(submission_id=str(alice_sub.pk))
    alice = _as(users["alice"])
    home = alice.get("/").content.decode()
    assert '<span class="badge" id="unread">1</span>' in home
    page = alice.get(reverse("competitions:notifications")).content.decode()
    assert "scored 0.9000" in page and 'class="unread kind-scored"' in page
    assert 'id="unread"' not in alice.get("/").content.decode()
    alice.post(reverse("competitions:notifications"), {})
    assert Notification.objects.get().user.notify_prefs.results_by_email is False


def test_emails_go_through_smtp_once_each(users, alice_sub, settings, tmp_path):
    smtp = SmtpServer(tmp_path)
    try:
        settings.MAILERS = {"default": smtp.mailer()}
        notify_result(submission_id=str(alice_sub.pk))
        assert notifications_email_send() == 1
        assert notifications_email_send() == 0  # claimed: a second sender finds nothing
        msg = smtp.wait_message("alice@example.org")
        assert "scored 0.9000" in str(msg["Subject"])
        assert len(smtp.messages()) == 1
    finally:
        smtp.stop()


def test_unreachable_mail_server_leaves_them_waiting_for_a_later_pass(users, alice_sub, settings):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2},
        }
    }
    notify_result(submission_id=str(alice_sub.pk))
    assert notifications_email_send() == 0
    n = Notification.objects.get()
    assert n.emailed_at is None and "unreachable" in n.email_error and n.email_attempts == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_the_worker_notifies_the_student_of_the_score(users, competition, models, celery_worker):
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    sub = wait_done(sub.pk)
    assert sub.status == "scored"
    # Written by the worker right after the result's commit.
    wait_for(lambda: Notification.objects.filter(user=users["alice"]).exists(), 30, "the notice")
    n = Notification.objects.get(user=users["alice"])
    assert n.kind == "scored" and f"{sub.public_score:.4f}" in n.title
