"""The file backend of push events (competitions/events.py): one small file per channel under
VAR_DIR/events, replaced on each event, and one watcher per stream process (per event loop)
over the files its open streams wait on.

On Linux the watcher is woken by the kernel (inotify: config/inotify.py) when a channel's
file is replaced: nothing runs while nothing happens. Polling every 10 ms, which it replaced,
woke the web process 100 times a second while a page was open, on the cores a grading was
using: with two onnxruntime threads on two cores, that alone made an MNIST CNN's inference
about 9% slower (measured with bench.pipeline.bare_inference beside a process waking every
10 ms; docs/BENCHMARKS.md). Where inotify is missing (another OS, no watches left), the
watcher polls every POLL_S; with inotify it still looks every SAFETY_S, in case the kernel's
event queue overflowed.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from django.conf import settings

from config.inotify import folder_watch

POLL_S = 0.01  # without inotify
SAFETY_S = 1.0  # with inotify: a look at every file now and then


def events_dir() -> Path:
    return Path(settings.VAR_DIR) / "events"


def file_publish(name: str) -> None:
    folder = events_dir()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    tmp.write_text(str(time.time_ns()))
    os.replace(tmp, folder / name)  # atomic: a watcher never reads half a stamp


def _stamp(path: Path) -> int | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_mtime_ns ^ st.st_ino  # os.replace gives a new inode even within one tick


class FileWatcher:
    """One watcher per event loop over the files of the channels being waited on."""

    def __init__(self) -> None:
        self.waiters: dict[str, set[asyncio.Event]] = {}
        self.stamps: dict[str, int | None] = {}
        self.task: asyncio.Task[None] | None = None
        self.notify: Any | None = None

    def watch(self, name: str, event: asyncio.Event) -> None:
        folder = events_dir()
        folder.mkdir(parents=True, exist_ok=True)  # a watch needs the folder
        self.waiters.setdefault(name, set()).add(event)
        self.stamps.setdefault(name, _stamp(folder / name))
        if self.task is None or self.task.done():
            loop = asyncio.get_running_loop()
            self.notify = folder_watch(folder)
            if self.notify is not None:
                loop.add_reader(self.notify.fileno(), self._woken)
            self.task = loop.create_task(self._run())

    def unwatch(self, name: str, event: asyncio.Event) -> None:
        waiting = self.waiters.get(name, set())
        waiting.discard(event)
        if not waiting:
            self.waiters.pop(name, None)
            self.stamps.pop(name, None)

    def _check(self, names: list[str]) -> None:
        for name in names:
            events = self.waiters.get(name)
            if events is None:
                continue
            now = _stamp(events_dir() / name)
            if now != self.stamps.get(name):
                self.stamps[name] = now
                for event in events:
                    event.set()

    def _woken(self) -> None:
        assert self.notify is not None
        try:
            got = self.notify.read(timeout=0)
        except OSError:
            got = []
        names = [e.name for e in got if e.name]
        overflowed = any(not e.name for e in got)  # IN_Q_OVERFLOW names no file
        self._check(list(self.waiters) if overflowed else names)

    async def _run(self) -> None:
        try:
            while self.waiters:
                self._check(list(self.waiters))
                await asyncio.sleep(POLL_S if self.notify is None else SAFETY_S)
        finally:
            if self.notify is not None:
                asyncio.get_running_loop().remove_reader(self.notify.fileno())
                self.notify.close()
                self.notify = None
