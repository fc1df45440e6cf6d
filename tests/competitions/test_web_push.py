"""Server push: events published when a change commits, the stream endpoints (ASGI) sending
them, and the answer under WSGI that makes the page poll instead."""

from __future__ import annotations

import asyncio
import sys

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient, Client
from django.urls import reverse

from competitions import events, events_file
from competitions.events import (
    channel_competition,
    channel_submission,
    events_publish,
    events_subscribe,
)
from competitions.services import dispatch
from competitions.services.grading import submission_grade
from competitions.services.submissions import submission_create
from testsupport.web import upload


def test_file_events_reach_a_subscriber_and_only_after_it_subscribed(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.PODIUM_EVENTS_URL = "file://"

    async def scenario() -> tuple[bool, bool, bool]:
        events._publish(["s-1"])  # before subscribing: not seen
        async with events_subscribe("s-1") as sub:
            quiet = await sub.wait(0.2)
            await asyncio.to_thread(events._publish, ["s-2"])  # another channel
            other = await sub.wait(0.2)
            await asyncio.to_thread(events._publish, ["s-1"])
            mine = await sub.wait(5.0)
        return quiet, other, mine

    assert asyncio.run(scenario()) == (False, False, True)


def _delivered_within(seconds: float) -> bool:
    async def scenario() -> bool:
        async with events_subscribe("s-9") as sub:
            await asyncio.sleep(0.05)  # the watcher's first look is done
            await asyncio.to_thread(events._publish, ["s-9"])
            return await sub.wait(seconds)

    return asyncio.run(scenario())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
def test_file_events_wake_the_watcher_through_inotify_without_polling(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.PODIUM_EVENTS_URL = "file://"
    # Any look by the clock comes only after a minute: an event within 2 s came through inotify.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(events_file, "SAFETY_S", 60.0)
        mp.setattr(events_file, "POLL_S", 60.0)
        assert _delivered_within(2.0)


def test_file_events_are_polled_where_inotify_is_missing(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.PODIUM_EVENTS_URL = "file://"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(events_file, "folder_watch", lambda folder: None)
        mp.setattr(events_file, "SAFETY_S", 60.0)  # not used without inotify
        assert _delivered_within(2.0)


def test_old_channel_files_are_pruned(settings, tmp_path):
    import os
    import time

    settings.VAR_DIR = tmp_path
    settings.PODIUM_EVENTS_URL = "file://"
    events._publish(["s-old", "s-new"])
    old = tmp_path / "events" / "s-old"
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert events.events_prune(older_than_s=3600) == 1
    assert not old.exists() and (tmp_path / "events" / "s-new").exists()


def test_redis_events_reach_a_subscriber(settings, tmp_path):
    from testsupport.procs import RedisServer

    try:
        server = RedisServer(tmp_path)
    except RuntimeError as e:
        pytest.skip(str(e))
    server.start()
    settings.PODIUM_EVENTS_URL = server.url
    events._redis_client.cache_clear()

    async def scenario() -> tuple[bool, bool]:
        async with events_subscribe("c-7") as sub:
            quiet = await sub.wait(0.2)
            await asyncio.to_thread(events._publish, ["c-7"])
            return quiet, await sub.wait(5.0)

    try:
        assert asyncio.run(scenario()) == (False, True)
    finally:
        server.stop()
        events._redis_client.cache_clear()


@pytest.fixture
def published(monkeypatch) -> list[str]:
    """The channels events are published on, in order (instead of files or Redis)."""
    out: list[str] = []
    monkeypatch.setattr(events, "_publish", lambda channels: out.extend(channels))
    return out


@pytest.mark.django_db
def test_grading_publishes_the_submission_and_the_leaderboard_on_commit(
    users, competition, models, published, django_capture_on_commit_callbacks
):
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert submission_grade(submission_id=sub.pk) == "scored"
    assert channel_submission(sub.pk) in published  # claim, progress, result
    assert channel_competition(competition.pk) in published  # the standings changed


@pytest.mark.django_db
def test_a_fast_grading_publishes_claim_and_result_only(
    users, competition, models, published, django_capture_on_commit_callbacks
):
    """A grading under a second writes no progress: each write would be a commit and an event
    making open pages fetch their status, taking CPU from the model."""
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert submission_grade(submission_id=sub.pk) == "scored"
    # The claim and the result; no progress write between them.
    assert published.count(channel_submission(sub.pk)) == 2


@pytest.mark.django_db(transaction=True)
def test_the_stream_sends_the_status_block_on_open_and_on_each_event(
    users, competition, models, settings, tmp_path, monkeypatch
):
    settings.VAR_DIR = tmp_path
    settings.PODIUM_EVENTS_URL = "file://"
    # No message to a worker (the suite's may be running): the submission stays queued.
    monkeypatch.setattr(dispatch, "grading_send", lambda **_: True)
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    url = reverse("competitions:submission_events", args=[sub.pk])

    async def scenario() -> tuple[int, str, list[str]]:
        client = AsyncClient()
        await client.aforce_login(users["alice"])
        response = await client.get(url)
        chunks = aiter(response.streaming_content)
        got = [(await anext(chunks)).decode() for _ in range(2)]  # retry, changed (open)
        await sync_to_async(events_publish)(channel_submission(sub.pk))
        got.append((await asyncio.wait_for(anext(chunks), 5.0)).decode())
        await chunks.aclose()
        return response.status_code, response["Content-Type"], got

    status, content_type, got = asyncio.run(scenario())
    assert status == 200 and content_type == "text/event-stream"
    assert got[0] == "retry: 2000\n\n"
    for event in got[1:]:  # the page's status block, every line a data line, then a blank one
        head, *lines = event.removesuffix("\n\n").split("\n")
        assert head == "event: changed"
        assert lines[0].startswith('data: <div id="status"') and 'data-status="queued"' in event
        assert all(line.startswith("data: ") for line in lines)


@pytest.mark.django_db
def test_under_wsgi_the_stream_says_204_and_others_get_404(users, competition, models):
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    client = Client()
    client.force_login(users["alice"])
    assert client.get(reverse("competitions:submission_events", args=[sub.pk])).status_code == 204
    board = reverse("competitions:leaderboard_events", args=[competition.slug])
    assert client.get(board).status_code == 204
    page = client.get(reverse("competitions:submission", args=[sub.pk])).content.decode()
    stream = reverse("competitions:submission_events", args=[sub.pk])
    assert f'data-events="{stream}?since=queued.0.0"' in page  # the state the page shows
    assert 'hx-trigger="podium-changed from:body"' in page
    client.force_login(users["bob"])
    assert client.get(reverse("competitions:submission_events", args=[sub.pk])).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_stream_opens_quietly_only_when_the_page_shows_the_current_state(
    users, competition, models, settings, tmp_path, monkeypatch
):
    settings.VAR_DIR = tmp_path
    settings.PODIUM_EVENTS_URL = "file://"
    # No message to a worker (the suite's may be running): this test grades it itself.
    monkeypatch.setattr(dispatch, "grading_send", lambda **_: True)
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    url = reverse("competitions:submission_events", args=[sub.pk])

    async def first_after_retry(since: str) -> str:
        client = AsyncClient()
        await client.aforce_login(users["alice"])
        response = await client.get(url, {"since": since})
        chunks = aiter(response.streaming_content)
        assert (await anext(chunks)).decode() == "retry: 2000\n\n"
        got = (await anext(chunks)).decode()
        await chunks.aclose()
        return got

    # Rendered while queued, still queued: nothing to refresh.
    assert asyncio.run(first_after_retry("queued.0.0")).startswith(": nothing changed")
    # Rendered while queued, claimed and graded before the stream subscribed: refresh.
    submission_grade(submission_id=sub.pk)
    refreshed = asyncio.run(first_after_retry("queued.0.0"))
    assert refreshed.startswith('event: changed\ndata: <div id="status"')
    assert 'data-testid="public-score"' in refreshed  # the score, in the event
    assert asyncio.run(first_after_retry("scored.1.1000")).startswith(": nothing changed")
