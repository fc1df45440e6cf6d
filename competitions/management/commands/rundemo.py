"""manage.py rundemo [ADDRPORT]: the web server and a Celery worker (with beat for the sweeper)
together in the foreground; Ctrl-C, SIGTERM and SIGHUP (a service manager, CI, a closed terminal)
stop both. For development and classroom demos only.

The web server is hypercorn serving config.asgi, so the pages' event streams
(competitions/views/streams.py) hold no thread; WhiteNoise serves the static files (DEBUG).
The worker is one process on both queues: one grading slot each (services/dispatch.py).

The children run in their own sessions (a Ctrl-C reaches them once, through us), so a signal
that only reaches this process must be passed on: SIGTERM and SIGHUP are handled like Ctrl-C,
and on Linux each child also gets SIGTERM from the kernel if this process dies without cleaning
up (SIGKILL). The web server runs without an autoreloader, whose own child would outlive it."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # the same way out as Ctrl-C: stop both children, then exit


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (Linux; elsewhere a no-op)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


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
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _interrupt)
        env = dict(os.environ)
        env.setdefault("PODIUM_CPU_SLOTS", "1")
        env.setdefault("PODIUM_GPU_SLOTS", "1")
        procs = {
            name: subprocess.Popen(
                cmd,
                cwd=settings.BASE_DIR,
                start_new_session=True,
                env=env,
                preexec_fn=_die_with_parent,
            )
            for name, cmd in commands.items()
        }
        self.stdout.write(f"Podium at http://{opts['addrport']}/  (Ctrl-C stops web and worker)")
        self.stdout.write(", ".join(f"{name} pid {p.pid}" for name, p in procs.items()))
        self.stdout.flush()
        try:
            while all(p.poll() is None for p in procs.values()):
                time.sleep(0.5)
            dead = [n for n, p in procs.items() if p.poll() is not None]
            self.stderr.write(f"{', '.join(dead)} exited; stopping the rest")
        except KeyboardInterrupt:
            self.stdout.write("stopping…")
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, signal.SIG_IGN)  # a second signal must not cut the cleanup
            for p in procs.values():
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGTERM)
            for p in procs.values():
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
