"""Celery's filesystem broker (the embedded default), with messages that appear whole.

kombu's filesystem transport creates a message's file under its final name and then writes it;
a consumer polling the folder can move and read the file in between, find it empty, and lose
the message (JSONDecodeError in the worker's consumer; the submission then waits for the
sweeper). Its lock (flock) is advisory and the consumer does not take it. Seen here once the
folder was polled every 10 ms instead of every second (config/settings.py): one message lost in
nine in the click-to-score benchmark. Here a message is written under a name the consumer does
not match and renamed into place, which is atomic within one folder.

A worker waiting for work is woken by the kernel when a message file is renamed into its folder
(inotify, on Linux), rather than by looking every polling_interval: kombu's transport sleeps
between looks, and a look every 10 ms (to keep the upload-to-claim time short) woke an idle
worker 100 times a second, on the cores another worker was grading on. With inotify it still
looks every SAFETY_S; without it (another OS), every polling_interval.

Registered for `filesystem://` in config/celery.py, so the web and the workers both use it.
"""

from __future__ import annotations

import os
import select
import time
import uuid
from queue import Empty
from typing import Any

from kombu import Connection
from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

from config.inotify import folder_watch

ALIAS = "filesystem"
PATH = "config.broker:Transport"
SAFETY_S = 1.0  # with inotify: a look now and then all the same


class Channel(filesystem.Channel):
    def _put(self, queue: str, *args: Any, **kwargs: Any) -> None:
        # kombu calls _put(queue, message); its base classes name the second argument
        # differently (message, payload), hence *args.
        (message,) = args
        # The name kombu gives (its consumer sorts on the leading milliseconds), written first
        # as a dot-file that does not end in ".<queue>.msg", so no consumer takes it half-written.
        name = f"{int(round(time.monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        part = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            with open(part, "wb") as f:
                f.write(str_to_bytes(dumps(message)))
            os.replace(part, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self._notify: Any = None
        self._notify_tried = False

    def _watch(self) -> Any:
        """The inotify descriptor on the queue folder (None without inotify), made once."""
        if not self._notify_tried:
            self._notify_tried = True
            options = (self.client.transport_options if self.client else None) or {}
            self._notify = folder_watch(options.get("data_folder_in", "data_in"))
        return self._notify

    def _wait(self, seconds: float) -> None:
        """Until a file arrives in the queue folder (or `seconds` pass)."""
        notify = self._watch()
        if notify is None:
            time.sleep(min(seconds, self.polling_interval or seconds))
            return
        if select.select([notify.fileno()], [], [], min(seconds, SAFETY_S))[0]:
            notify.read(timeout=0)  # drop what woke us: the next look takes every file

    def drain_events(
        self, connection: Connection, timeout: float | None = None, **kwargs: Any
    ) -> None:
        """Deliver one message, waiting up to `timeout` (forever when None) for one."""
        start = time.monotonic()
        self._watch()  # before the first look: a file landing after it wakes the wait
        assert self.cycle is not None
        while True:
            try:
                self.cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                left = None if timeout is None else timeout - (time.monotonic() - start)
                if left is not None and left <= 0:
                    raise TimeoutError() from None
                self._wait(SAFETY_S if left is None else left)

    def close_connection(self, connection: Connection) -> None:
        if self._notify is not None:
            self._notify.close()
            self._notify = None
        super().close_connection(connection)
