"""Celery's filesystem broker (the embedded default), with messages that appear whole.

kombu's filesystem transport creates a message's file under its final name and then writes it;
a consumer polling the folder can move and read the file in between, find it empty, and lose
the message (JSONDecodeError in the worker's consumer; the submission then waits for the
sweeper). Its lock (flock) is advisory and the consumer does not take it. Seen here once the
folder was polled every 10 ms instead of every second (config/settings.py): one message lost in
nine in the click-to-score benchmark. Here a message is written under a name the consumer does
not match and renamed into place, which is atomic within one folder.

Registered for `filesystem://` in config/celery.py, so the web and the workers both use it.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

ALIAS = "filesystem"
PATH = "config.broker:Transport"


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
