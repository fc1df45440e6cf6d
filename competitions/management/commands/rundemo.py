"""manage.py rundemo [ADDRPORT]: the web server and a Celery worker (with beat for the sweeper)
together in the foreground; Ctrl-C stops both. For development and classroom demos only.

The web server is hypercorn serving config.asgi, so the pages' event streams
(competitions/views/streams.py) hold no thread; WhiteNoise serves the static files (DEBUG).
The worker is one process on both queues: one grading slot each (services/dispatch.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run the development web server and a Celery worker (+beat) together."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args: Any, **opts: Any) -> None:
        py = sys.executable
        beat_db = str(settings.VAR_DIR / "celerybeat-schedule")
        commands = {
            "worker": [
                py,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-B",
                "-s",
                beat_db,
                "-Q",
                "cpu,gpu",
                "-c",
                "1",
                "-l",
                "info",
            ],
            "web": [py, "-m", "hypercorn", "config.asgi:application", "-b", opts["addrport"]],
        }
        env = dict(os.environ)
        env.setdefault("PODIUM_CPU_SLOTS", "1")
        env.setdefault("PODIUM_GPU_SLOTS", "1")
        procs = {
            name: subprocess.Popen(cmd, cwd=settings.BASE_DIR, start_new_session=True, env=env)
            for name, cmd in commands.items()
        }
        self.stdout.write(f"Podium at http://{opts['addrport']}/  (Ctrl-C stops web and worker)")
        try:
            while all(p.poll() is None for p in procs.values()):
                time.sleep(0.5)
            dead = [n for n, p in procs.items() if p.poll() is not None]
            self.stderr.write(f"{', '.join(dead)} exited; stopping the rest")
        except KeyboardInterrupt:
            self.stdout.write("stopping…")
        finally:
            for p in procs.values():
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGTERM)
            for p in procs.values():
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
