"""Notifications for students: stored for the in-app list, e-mailed by a Celery task.

Each event has a key (unique in the table): reporting it again changes nothing, and the e-mail
sender claims a row with a conditional UPDATE before sending it, so no message goes out twice.
Events: a submission scored or failed (e-mail opt-out per student), disqualified or hidden (with
the instructor's reason), an exception granted, 24 h before the close to students without a
scored entry, and the final standings once everything the close reveals is shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMessage, mailers
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from competitions.models import Competition, Membership, Notification, NotifyPrefs, Submission
from competitions.selectors.leaderboard import leaderboard_get
from competitions.services.dispatch import notifications_send

K = Notification.Kind
MAX_EMAIL_ATTEMPTS = 3


def _link(path: str) -> str:
    return settings.PODIUM_SITE_URL.rstrip("/") + path


def notification_add(
    *,
    user: User,
    kind: str,
    key: str,
    title: str,
    body: str = "",
    url: str = "",
    email: bool = True,
) -> bool:
    """Store one notification (once per key); e-mail it soon when wanted. True when new."""
    _, created = Notification.objects.get_or_create(
        key=key[:120],
        defaults={
            "user": user,
            "kind": kind,
            "title": title[:200],
            "body": body[:4000],
            "url": url[:300],
            "email_wanted": email and bool(user.email),
        },
    )
    if created and email and user.email:
        transaction.on_commit(notifications_send)
    return created


def _people(sub: Submission) -> list[User]:
    """The author, or every member of the submission's team."""
    if sub.team_id is None:
        return [sub.user]
    return [m.user for m in sub.team.memberships.select_related("user")] if sub.team else []


def notify_result(*, submission_id: str) -> None:
    """After a grading attempt wrote its outcome: tell the student(s), unless it is a baseline."""
    sub = Submission.objects.select_related("competition", "user", "team").get(pk=submission_id)
    if sub.is_baseline or sub.status not in (Submission.Status.SCORED, Submission.Status.FAILED):
        return
    stamp = f"{sub.pk}:{sub.attempts}:{sub.enqueued_at.timestamp() if sub.enqueued_at else 0}"
    url = reverse("competitions:submission", args=[sub.pk])
    if sub.status == Submission.Status.SCORED:
        kind, title = K.SCORED, f"{sub.original_name} scored {sub.public_score:.4f} (public split)"
        body = f"Your submission to {sub.competition.title} was graded."
    else:
        kind, title = K.FAILED, f"{sub.original_name} could not be graded: {sub.error_code}"
        counts = "It counts" if sub.counts_toward_quota else "It does not count"
        body = f"{sub.error_message}\n{counts} against your submissions."
    for person in _people(sub):
        prefs = NotifyPrefs.objects.filter(user=person).first()
        notification_add(
            user=person,
            kind=kind,
            key=f"result:{stamp}:{person.pk}",
            title=title,
            body=f"{body}\n{_link(url)}",
            url=url,
            email=prefs.results_by_email if prefs else True,
        )


def notify_flag(*, submission: Submission, action: str, reason: str, entry_id: int) -> None:
    """Disqualified or hidden by an instructor: the student learns it, with the reason."""
    what = {"disqualify": "was disqualified", "hide": "was hidden from the leaderboard"}[action]
    url = reverse("competitions:submission", args=[submission.pk])
    title = f"{submission.original_name} {what}"
    body = f"Reason: {reason or '(none given)'}\n{_link(url)}"
    for person in _people(submission):
        notification_add(
            user=person,
            kind=K.FLAGGED,
            key=f"flag:{entry_id}:{person.pk}",
            title=title,
            body=body,
            url=url,
        )


def notify_exception(
    *, competition: Competition, people: Iterable[User], text: str, key: str
) -> None:
    url = reverse("competitions:detail", args=[competition.slug])
    for person in people:
        notification_add(
            user=person,
            kind=K.EXCEPTION,
            key=f"exception:{key}:{person.pk}",
            title=f"Exception granted in {competition.title}",
            body=f"{text}\n{_link(url)}",
            url=url,
        )


def _scored_user_ids(competition: Competition) -> set[int]:
    scored = Submission.objects.filter(
        competition=competition, status=Submission.Status.SCORED, is_baseline=False
    )
    ids = set(scored.values_list("user_id", flat=True))
    teams = scored.exclude(team=None).values_list("team_id", flat=True)
    ids |= set(
        competition.teams.filter(pk__in=teams).values_list("memberships__user_id", flat=True)
    )
    return ids


def _students(competition: Competition) -> list[User]:
    if competition.course_id is None:
        return []
    ids = Membership.objects.filter(
        course_id=competition.course_id, role=Membership.Role.STUDENT
    ).values_list("user_id", flat=True)
    return list(User.objects.filter(pk__in=ids))


def notify_deadlines(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The periodic pass: reminders 24 h before a close, final standings after one."""
    now = now or timezone.now()
    counts = {"reminders": 0, "finals": 0}
    soon = Competition.objects.filter(closed=False, closes_at__gt=now)
    for c in soon.filter(closes_at__lte=now + dt.timedelta(hours=24)):
        done = _scored_user_ids(c)
        url = reverse("competitions:detail", args=[c.slug])
        when = timezone.localtime(c.closes_at).strftime("%Y-%m-%d %H:%M %Z")
        for person in _students(c):
            if person.pk not in done:
                counts["reminders"] += notification_add(
                    user=person,
                    kind=K.REMINDER,
                    key=f"remind:{c.pk}:{c.closes_at.timestamp():.0f}:{person.pk}",
                    title=f"{c.title} closes in less than 24 hours",
                    body=f"You have no scored entry yet; it closes {when}.\n{_link(url)}",
                    url=url,
                )
    recent = now - dt.timedelta(days=7)
    for c in Competition.objects.filter(closes_at__gte=recent, closes_at__lte=now) | (
        Competition.objects.filter(closed=True, closed_at__gte=recent)
    ):
        if c.is_finished(now):
            counts["finals"] += _finals(c)
    return counts


def _finals(competition: Competition) -> int:
    rows = [r for r in leaderboard_get(competition=competition, private=True) if not r.is_baseline]
    url = reverse("competitions:leaderboard", args=[competition.slug])
    placed: dict[int, str] = {}
    for rank, r in enumerate(rows, start=1):
        for uid in r.user_ids:
            placed[uid] = f"rank {rank} of {len(rows)}, private score {r.score:.4f}"
    people = {u.pk: u for u in _students(competition)}
    people |= {u.pk: u for u in User.objects.filter(pk__in=placed)}
    n = 0
    for uid, person in people.items():
        n += notification_add(
            user=person,
            kind=K.FINAL,
            key=f"final:{competition.pk}:{uid}",
            title=f"Final standings of {competition.title}",
            body=f"{placed.get(uid, 'no scored entry')}.\n{_link(url)}",
            url=url,
        )
    return n


def notifications_email_send(*, limit: int = 500) -> int:
    """E-mail what is waiting, on one connection. Each row is claimed (a conditional UPDATE that
    must change it) before it is sent: a second sender never sends it again. A failure puts it
    back for a later pass, at most MAX_EMAIL_ATTEMPTS times."""
    waiting = Notification.objects.filter(
        email_wanted=True, emailed_at=None, email_attempts__lt=MAX_EMAIL_ATTEMPTS
    ).order_by("id")
    now = timezone.now()
    claimed = [
        nid
        for nid in waiting.values_list("id", flat=True)[:limit]
        if Notification.objects.filter(pk=nid, emailed_at=None).update(
            emailed_at=now, email_attempts=F("email_attempts") + 1
        )
    ]
    if not claimed:
        return 0
    sent = 0
    connection = mailers.default
    rows = Notification.objects.filter(pk__in=claimed).select_related("user")
    try:
        connection.open()
    except OSError as e:
        rows.update(emailed_at=None, email_error=f"mail server unreachable: {e}"[:300])
        return 0
    try:
        for n in rows:
            message = EmailMessage(f"Podium: {n.title}", n.body, to=[n.user.email])
            try:
                connection.send_messages([message])
            except Exception as e:  # one bad address must not stop the rest
                Notification.objects.filter(pk=n.pk).update(
                    emailed_at=None, email_error=str(e)[:300]
                )
            else:
                sent += 1
    finally:
        connection.close()
    return sent


def notifications_mark_read(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at=None).update(read_at=timezone.now())


def notify_prefs_set(*, user: User, results_by_email: bool) -> None:
    NotifyPrefs.objects.update_or_create(user=user, defaults={"results_by_email": results_by_email})
