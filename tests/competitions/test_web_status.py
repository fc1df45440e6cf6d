"""The staff status page (issue 15): queue depth per queue, the oldest waiting submission and its
age, workers seen in the last minute (the real worker's heartbeat), and the e-mail to staff when
the oldest wait passes the limit, delivered to a real SMTP server process (aiosmtpd)."""

from __future__ import annotations

import datetime as dt
import mailbox
import socket
import subprocess
import sys

import pytest
from django.urls import reverse
from django.utils import timezone

from competitions.models import StaffAlert, Submission, WorkerSeen
from competitions.services.status import queue_alert_check
from competitions.services.submissions import submission_create
from testsupport.procs import wait_for
from testsupport.web import upload


def _queued(users, competition, models, minutes_ago: float) -> Submission:
    # No worker runs in these tests: the task is sent to the broker and stays there.
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    since = timezone.now() - dt.timedelta(minutes=minutes_ago)
    Submission.objects.filter(pk=sub.pk).update(queued_since=since, enqueued_at=timezone.now())
    return sub


@pytest.fixture
def smtp_server(tmp_path):
    """aiosmtpd in its own process, delivering into a Maildir."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    maildir = tmp_path / "maildir"
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"]
        + ["-c", "aiosmtpd.handlers.Mailbox", str(maildir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_for(listening, 30, "the SMTP server to listen")
        yield port, maildir
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.django_db
def test_status_page_shows_depth_oldest_wait_and_is_staff_only(client, users, competition, models):
    old = _queued(users, competition, models, minutes_ago=25)
    _queued(users, competition, models, minutes_ago=2)
    client.force_login(users["teacher"])
    assert client.get(reverse("competitions:status")).status_code == 404  # instructors: no
    users["teacher"].is_staff = True
    users["teacher"].save()
    page = client.get(reverse("competitions:status")).content.decode()
    cpu = page[page.index('data-queue="cpu"') :]
    cpu = cpu[: cpu.index("</tr>")]
    assert "<td>2</td>" in cpu and f"/s/{old.pk}/" in cpu and "25\xa0minutes" in cpu
    assert "No worker has reported in the last minute" in page
    WorkerSeen.objects.create(hostname="celery@box", queues="cpu", last_seen=timezone.now())
    page = client.get(reverse("competitions:status")).content.decode()
    assert "celery@box" in page and "No worker has reported" not in page


@pytest.mark.django_db
def test_staff_mailed_once_when_the_oldest_wait_passes_the_limit(
    users, competition, models, smtp_server, settings
):
    port, maildir = smtp_server
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port},
        }
    }
    settings.PODIUM_QUEUE_ALERT_AFTER_S = 600
    users["carol"].is_staff = True
    users["carol"].save()
    _queued(users, competition, models, minutes_ago=5)
    assert queue_alert_check() is None  # 5 min: under the limit
    _queued(users, competition, models, minutes_ago=12)
    assert "has waited 12 min" in (queue_alert_check() or "")
    assert queue_alert_check() is None  # once per interval
    messages = wait_for(lambda: list(mailbox.Maildir(maildir)) or None, 30, "the alert mail")
    assert len(messages) == 1 and messages[0]["To"] == "carol@example.org"
    assert "waiting in the queue" in messages[0]["Subject"]
    StaffAlert.objects.update(sent_at=timezone.now() - dt.timedelta(hours=2))
    assert queue_alert_check() is not None  # the next interval: told again


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_the_real_worker_is_seen_on_the_status_page(client, users, celery_worker):
    # The worker reports on its own timer (PODIUM_HEARTBEAT_S, 20 s), busy or idle.
    seen = wait_for(
        lambda: WorkerSeen.objects.filter(
            last_seen__gte=timezone.now() - dt.timedelta(minutes=1)
        ).first(),
        60,
        "the worker's heartbeat",
    )
    assert "cpu" in seen.queues.split(",")
    users["teacher"].is_staff = True
    users["teacher"].save()
    client.force_login(users["teacher"])
    page = client.get(reverse("competitions:status")).content.decode()
    assert seen.hostname in page and "No worker has reported" not in page
