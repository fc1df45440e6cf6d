"""The grading queue: round-robin by entrant, oldest first within an entrant, staff rescores
last; only as many messages in flight as slots; the sweeper gives lost slots back; queue place
and ETA on the page and in the API."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from competitions.models import Membership, Submission
from competitions.selectors.queue import queue_order, queue_place
from competitions.services import dispatch
from competitions.services.grading import submissions_sweep
from competitions.services.submissions import submission_create, submission_rescore
from competitions.services.tokens import token_create
from testsupport.web import upload, wait_done

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _roomy(course, users, competition):
    Membership.objects.create(course=course, user=users["carol"])
    competition.daily_limit = 20
    competition.save()


@pytest.fixture
def sent(monkeypatch):
    """The messages the dispatcher sends (instead of a broker), in order."""
    out: list[str] = []

    def send(*, submission_id: str, queue: str) -> bool:
        out.append(submission_id)
        return True

    monkeypatch.setattr(dispatch, "grading_send", send)
    return out


def _make(users, competition, models, user, minutes_ago):
    sub = submission_create(
        user=users[user], competition=competition, upload=upload(models["weak"])
    )
    at = timezone.now() - dt.timedelta(minutes=minutes_ago)
    Submission.objects.filter(pk=sub.pk).update(created_at=at, enqueued_at=at)
    return Submission.objects.get(pk=sub.pk)


def _scored_then_rescored(users, competition, models, user, minutes_ago):
    sub = _make(users, competition, models, user, minutes_ago)
    Submission.objects.filter(pk=sub.pk).update(status="scored", public_score=0.5)
    assert submission_rescore(submission=sub)
    return sub


def test_round_robin_by_entrant_oldest_first_and_rescores_last(
    users, competition, models, settings, sent, django_capture_on_commit_callbacks
):
    settings.PODIUM_GRADING_SLOTS = {"cpu": 2, "gpu": 1}
    rescore = _scored_then_rescored(users, competition, models, "carol", 60)  # oldest of all
    bob = [_make(users, competition, models, "bob", 50 - i) for i in range(4)]  # a burst
    alice = _make(users, competition, models, "alice", 10)  # her first, well after the burst
    order = queue_order(queue="cpu").waiting
    # bob's first, then alice's first (round 0), then bob's others, the staff rescore last
    assert order == [bob[0].pk, alice.pk, bob[1].pk, bob[2].pk, bob[3].pk, rescore.pk]

    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch.submissions_dispatch() == 2  # two slots, two messages
    assert sent == [str(bob[0].pk), str(alice.pk)]
    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch.submissions_dispatch() == 0  # no free slot: nothing more in flight
    # bob's first ends: his next takes the slot; he holds none now, so he is next anyway
    Submission.objects.filter(pk=bob[0].pk).update(status="scored", finished_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch.submissions_dispatch() == 1
    assert sent[-1] == str(bob[1].pk)


def test_fifo_order_is_arrival_order(users, competition, models, settings):
    settings.PODIUM_QUEUE_ORDER = "fifo"
    bob = [_make(users, competition, models, "bob", 50 - i) for i in range(3)]
    alice = _make(users, competition, models, "alice", 10)
    assert queue_order(queue="cpu").waiting == [*(b.pk for b in bob), alice.pk]


def test_an_entrant_busy_on_a_slot_yields_to_anothers_first_submission(
    users, competition, models, settings, sent, django_capture_on_commit_callbacks
):
    settings.PODIUM_GRADING_SLOTS = {"cpu": 1, "gpu": 1}
    bob = [_make(users, competition, models, "bob", 50 - i) for i in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        dispatch.submissions_dispatch()
    Submission.objects.filter(pk=bob[0].pk).update(status="running")
    carol = _make(users, competition, models, "carol", 1)  # arrives while bob's first runs
    assert queue_order(queue="cpu").waiting[0] == carol.pk
    assert queue_place(submission=Submission.objects.get(pk=carol.pk)).position == 1
    assert queue_place(submission=Submission.objects.get(pk=bob[2].pk)).position == 3


def test_queue_place_and_eta_on_the_page_and_in_the_api(users, competition, models, settings):
    settings.PODIUM_GRADING_SLOTS = {"cpu": 1, "gpu": 1}
    done = _make(users, competition, models, "carol", 90)
    start = timezone.now() - dt.timedelta(minutes=5)
    Submission.objects.filter(pk=done.pk).update(
        status="scored", started_at=start, finished_at=start + dt.timedelta(seconds=8)
    )
    first = _make(users, competition, models, "bob", 30)
    second = _make(users, competition, models, "bob", 20)
    place = queue_place(submission=second)
    assert place.position == 2
    assert place.eta_s == pytest.approx(8 * 1.5)  # one grading ahead, the current half done
    assert queue_place(submission=Submission.objects.get(pk=done.pk)) is None  # not queued

    client = Client()
    client.force_login(users["bob"])
    page = client.get(reverse("competitions:submission", args=[second.pk])).content.decode()
    assert 'data-testid="queue-position">2<' in page and 'data-testid="queue-eta">12<' in page
    _, key = token_create(user=users["bob"])
    auth = {"Authorization": f"Bearer {key}"}
    body = client.get(f"/api/submissions/{second.pk}", headers=auth).json()
    assert (body["queue_position"], body["eta_s"]) == (2, pytest.approx(12.0))
    listed = client.get(f"/api/competitions/{competition.slug}/submissions", headers=auth).json()
    assert [(s["id"], s["queue_position"]) for s in listed] == [
        (str(second.pk), 2),
        (str(first.pk), 1),
    ]
    done_body = client.get(f"/api/submissions/{done.pk}", headers=auth)
    assert done_body.status_code == 404 or done_body.json()["queue_position"] is None


def test_sweeper_frees_the_slots_of_lost_messages_and_lost_workers(
    users, competition, models, settings, sent, django_capture_on_commit_callbacks
):
    settings.PODIUM_GRADING_SLOTS = {"cpu": 2, "gpu": 1}
    lost_message = _make(users, competition, models, "alice", 60)
    lost_worker = _make(users, competition, models, "bob", 50)
    waiting = _make(users, competition, models, "carol", 40)
    long_ago = timezone.now() - dt.timedelta(hours=3)
    Submission.objects.filter(pk=lost_message.pk).update(dispatched_at=long_ago)
    Submission.objects.filter(pk=lost_worker.pk).update(
        status="running", attempts=1, started_at=long_ago, dispatched_at=long_ago
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch.submissions_dispatch() == 0  # both slots held
    with django_capture_on_commit_callbacks(execute=True):
        counts = submissions_sweep()
    assert counts == {"requeued": 1, "retried": 1, "failed": 0}
    # Both slots come back; the fair order sends the oldest two (each entrant's first).
    assert sent == [str(lost_message.pk), str(lost_worker.pk)]
    assert Submission.objects.get(pk=lost_worker.pk).status == "queued"
    assert Submission.objects.get(pk=waiting.pk).dispatched_at is None


def test_a_transaction_that_queues_many_dispatches_once(
    users, competition, models, monkeypatch, django_capture_on_commit_callbacks
):
    calls: list[int] = []
    monkeypatch.setattr(dispatch, "submissions_dispatch", lambda **kw: calls.append(1) or 0)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            for minutes in (3, 2, 1):
                _make(users, competition, models, "bob", minutes)
    assert [c for c in callbacks if c is dispatch.submissions_dispatch_quietly] == [
        dispatch.submissions_dispatch_quietly
    ]
    assert calls == [1]


def test_a_send_the_broker_refuses_gives_the_slot_back(
    users, competition, models, settings, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(dispatch, "grading_send", lambda **kw: False)
    sub = _make(users, competition, models, "alice", 5)
    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch.submissions_dispatch() == 1
    assert Submission.objects.get(pk=sub.pk).dispatched_at is None  # the next dispatch retries


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_real_worker_grades_another_students_first_before_a_burst_and_rescores_last(
    users, competition, models, celery_worker
):
    """One worker, one slot (settings_test): the order it starts them is the dispatcher's."""
    earlier = submission_create(
        user=users["carol"], competition=competition, upload=upload(models["weak"])
    )
    assert wait_done(earlier.pk).status == "scored"
    with transaction.atomic():  # all queued at once: the order is the queue's, not the arrival's
        assert submission_rescore(submission=earlier)
        burst = [
            submission_create(
                user=users["bob"], competition=competition, upload=upload(models["weak"])
            )
            for _ in range(3)
        ]
        alice = submission_create(
            user=users["alice"], competition=competition, upload=upload(models["weak"])
        )
    expected = [burst[0].pk, alice.pk, burst[1].pk, burst[2].pk, earlier.pk]
    done = [wait_done(pk) for pk in expected]
    assert all(s.status == "scored" and s.attempts == 1 for s in done)
    started = sorted(done, key=lambda s: s.started_at)
    names = {s.pk: (s.user.username, s.is_rescore, s.dispatched_at, s.started_at) for s in done}
    assert [s.pk for s in started] == expected, [names[s.pk] for s in started]


def test_a_worker_whose_grading_ends_takes_the_next_itself_in_the_queues_order(
    users, competition, models, settings, sent, django_capture_on_commit_callbacks
):
    """One slot: the message sent for the first submission grades all three, in the fair order
    (the others are taken without a message), and the slot is free again at the end."""
    from competitions.tasks import grade_submission

    settings.PODIUM_GRADING_SLOTS = {"cpu": 1, "gpu": 1}
    with django_capture_on_commit_callbacks(execute=True):
        bob = [_make(users, competition, models, "bob", 30 - i) for i in range(2)]
        alice = _make(users, competition, models, "alice", 10)
    assert sent == [str(bob[0].pk)]  # one slot: one message
    with django_capture_on_commit_callbacks(execute=True):
        assert grade_submission(str(bob[0].pk)) == "scored"
    assert sent == [str(bob[0].pk)]  # no message for the other two
    done = sorted(Submission.objects.filter(status="scored"), key=lambda s: s.started_at)
    assert [s.pk for s in done] == [bob[0].pk, alice.pk, bob[1].pk]
    assert all(s.attempts == 1 for s in done)
    assert not Submission.objects.filter(dispatched_at__isnull=False, status="queued").exists()


def test_a_worker_does_not_take_one_whose_time_limit_its_task_has_no_time_left_for(
    users, competition, models, settings, sent
):
    settings.PODIUM_GRADING_SLOTS = {"cpu": 1, "gpu": 1}
    sub = _make(users, competition, models, "alice", 10)
    Submission.objects.filter(pk=sub.pk).update(dispatched_at=None)
    limit = competition.time_limit_s
    assert dispatch.submission_take_next(queue="cpu", time_left_s=limit - 1) is None
    assert Submission.objects.get(pk=sub.pk).dispatched_at is None  # still waiting for a message
    assert dispatch.submission_take_next(queue="cpu", time_left_s=limit) == sub.pk
    assert Submission.objects.get(pk=sub.pk).dispatched_at is not None  # holds the slot now
    assert dispatch.submission_take_next(queue="cpu", time_left_s=limit) is None  # slot taken


def test_after_its_chaining_time_a_worker_hands_the_slot_back_by_a_message(
    users, competition, models, settings, sent, monkeypatch, django_capture_on_commit_callbacks
):
    """So the queue's other messages (the sweeper, e-mails) are not held back by a long rush."""
    from competitions import tasks

    settings.PODIUM_GRADING_SLOTS = {"cpu": 1, "gpu": 1}
    monkeypatch.setattr(tasks, "CHAIN_FOR_S", 0.0)
    with django_capture_on_commit_callbacks(execute=True):
        first = _make(users, competition, models, "bob", 30)
        second = _make(users, competition, models, "alice", 10)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.grade_submission(str(first.pk)) == "scored"
    assert Submission.objects.get(pk=second.pk).status == "queued"
    assert sent == [str(first.pk), str(second.pk)]  # the next one went by a message
