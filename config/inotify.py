"""Being woken when a file lands in a folder, instead of looking at it on a clock: the embedded
default's broker (config/broker.py) and push events (competitions/events_file.py) both wait so.
Linux's inotify through inotify_simple (a Linux-only dependency); elsewhere the callers poll."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def folder_watch(folder: str | Path) -> Any | None:
    """A non-blocking inotify descriptor reporting files renamed into `folder` or written there
    (its `fileno()` turns readable), or None where there is none: the caller polls then."""
    try:
        from inotify_simple import INotify, flags
    except ImportError:  # not Linux
        return None
    try:
        notify = INotify(nonblocking=True)
    except OSError as e:
        logger.warning("inotify unavailable (%s): %s is polled", e, folder)
        return None
    try:
        notify.add_watch(str(folder), flags.MOVED_TO | flags.CLOSE_WRITE)
    except OSError as e:
        notify.close()
        logger.warning("inotify watch on %s refused (%s): it is polled", folder, e)
        return None
    return notify
