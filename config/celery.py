"""Celery application: settings come from Django (CELERY_* names in config.settings)."""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, bootsteps
from kombu.transport import TRANSPORT_ALIASES

from config import broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
logger = logging.getLogger(__name__)
# `filesystem://` is kombu's transport with messages written whole (config/broker.py).
TRANSPORT_ALIASES[broker.ALIAS] = broker.PATH

app = Celery("podium")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class Heartbeat(bootsteps.StartStopStep):
    """Every PODIUM_HEARTBEAT_S, the worker records that it is alive and what it consumes (the
    staff status page lists the workers seen in the last minute). On the worker's own timer, so
    an idle worker is seen too; a failed write is logged and tried again next time."""

    requires = ("celery.worker.components:Timer",)

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        self.tref: Any = None

    def start(self, worker: Any) -> None:
        from django.conf import settings

        self._beat(worker)
        self.tref = worker.timer.call_repeatedly(
            settings.PODIUM_HEARTBEAT_S, self._beat, (worker,), priority=10
        )

    def stop(self, worker: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()

    @staticmethod
    def _beat(worker: Any) -> None:
        from django.db import close_old_connections

        from competitions.services.status import worker_heartbeat

        try:
            queues = ",".join(sorted(worker.app.amqp.queues.consume_from or {}))
            worker_heartbeat(hostname=worker.hostname, queues=queues)
        except Exception:
            logger.exception("worker heartbeat not recorded")
        finally:
            close_old_connections()


app.steps["worker"].add(Heartbeat)
