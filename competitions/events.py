"""Push events: "this submission changed", "this leaderboard changed". Published once the change
commits (claim, progress, result, failure, standings refresh) and awaited by the stream endpoints
(competitions/views/streams.py), so an open page learns of a result without polling.

Backends (settings.PODIUM_EVENTS_URL):
- `redis://…`: Redis pub/sub (the deployment's broker); channel `podium:<name>`.
- `file://` (the embedded default, with SQLite and the filesystem broker, on one machine): one
  small file per channel under VAR_DIR/events, replaced on each event; each stream process runs
  one watcher over the files its open streams wait on, woken by inotify on Linux (never a
  database query), however many pages are open (competitions/events_file.py).

Publishing is best effort: a failure is logged, and pages fall back to polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import transaction

from competitions.events_file import FileWatcher, events_dir, file_publish

logger = logging.getLogger(__name__)


def channel_submission(submission_id: Any) -> str:
    return f"s-{submission_id}"


def channel_competition(competition_id: int) -> str:
    return f"c-{competition_id}"


def events_publish(*channels: str) -> None:
    """Publish once the surrounding transaction commits (at once outside one)."""
    transaction.on_commit(lambda: _publish(channels))


def _redis_url() -> str | None:
    url = settings.PODIUM_EVENTS_URL
    return url if url.startswith(("redis://", "rediss://")) else None


@lru_cache(maxsize=1)
def _redis_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _publish(channels: Iterable[str]) -> None:
    try:
        url = _redis_url()
        if url:
            client = _redis_client(url)
            for name in channels:
                client.publish(f"podium:{name}", "1")
            return
        for name in channels:
            file_publish(name)
    except Exception as e:  # push is an extra: pages still poll when it is missing
        logger.warning("event %s not published (%s)", list(channels), e)


def events_prune(*, older_than_s: float = 3600.0) -> int:
    """Delete the file backend's channel files untouched for that long (the sweeper calls it): a
    stream subscribing later only waits for the next change, which rewrites the file."""
    if _redis_url():
        return 0
    cutoff, removed = time.time() - older_than_s, 0
    for path in events_dir().glob("*") if events_dir().is_dir() else []:
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


_watchers: dict[int, FileWatcher] = {}  # one per event loop


class Subscription:
    """Events of one channel from the moment of subscribing; `wait` says whether one came."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._event = asyncio.Event()
        self._pubsub: Any = None

    async def wait(self, timeout: float) -> bool:
        if self._pubsub is not None:
            deadline = asyncio.get_running_loop().time() + timeout
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                msg = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
                if msg is not None:
                    return True
            return False
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        self._event.clear()
        return True


@contextlib.asynccontextmanager
async def events_subscribe(name: str) -> AsyncIterator[Subscription]:
    """Subscribe before reading the state the events are about, so none is missed between."""
    sub = Subscription(name)
    url = _redis_url()
    if url:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(url)
        sub._pubsub = client.pubsub()
        await sub._pubsub.subscribe(f"podium:{name}")
        try:
            yield sub
        finally:
            await sub._pubsub.aclose()
            await client.aclose()
        return
    loop_id = id(asyncio.get_running_loop())
    watcher = _watchers.setdefault(loop_id, FileWatcher())
    watcher.watch(name, sub._event)
    try:
        yield sub
    finally:
        watcher.unwatch(name, sub._event)
