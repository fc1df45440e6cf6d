"""Shared fixtures: a REAL Celery worker process on the configured broker and test database.

The worker is started once per session, after the test database exists, with DATABASE_URL
pointing at that database (SQLite file var/test/test_podium.sqlite3, or PostgreSQL's test_*
database); tests that use it must commit their data (transactional_db / live_server).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

pytest_plugins = ["testsupport.browser"]  # the browser tests' `browser` and `page` fixtures

ROOT = Path(__file__).resolve().parent.parent
TEST_VAR = ROOT / "var" / "test"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pytest_sessionstart(session: pytest.Session) -> None:
    """Remove var/test/run-<pid>/ directories left by test runs that no longer exist."""
    for d in TEST_VAR.glob("run-*"):
        pid = d.name.removeprefix("run-")
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    """This run's var/ directory (test database, uploads, broker) goes when the run ends."""
    shutil.rmtree(TEST_VAR / f"run-{os.getpid()}", ignore_errors=True)


def _database_url(db: dict) -> str:
    engine = db["ENGINE"]
    if engine.endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    if "postgresql" in engine:
        auth = quote(db.get("USER") or "")
        if db.get("PASSWORD"):
            auth += ":" + quote(db["PASSWORD"])
        host = db.get("HOST") or "localhost"
        port = f":{db['PORT']}" if db.get("PORT") else ""
        return f"postgres://{auth + '@' if auth else ''}{host}{port}/{db['NAME']}"
    raise RuntimeError(f"no worker support for {engine}")


def _purge_broker() -> None:
    from django.conf import settings

    from config.celery import app

    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        for sub in ("queue", "processed"):
            for f in (settings.PODIUM_BROKER_DIR / sub).glob("*"):
                f.unlink(missing_ok=True)
        return
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in ("cpu", "gpu"):
            try:
                channel.queue_purge(queue)
            except Exception:  # queue does not exist yet
                pass


_started_worker_logs: list[Path] = []  # the suite's worker's log, once it runs


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """A `celery worker` subprocess consuming the cpu and gpu queues."""
    from django.conf import settings
    from django.db import connection

    with django_db_blocker.unblock():
        url = _database_url(connection.settings_dict)
    _purge_broker()
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings_test",
        DATABASE_URL=url,
        PYTHONUNBUFFERED="1",
        PODIUM_VAR_DIR=str(settings.VAR_DIR),
    )
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "-Q",
        "cpu,gpu",
        "-P",
        "solo",
        "-c",
        "1",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-l",
        "info",
        "-n",
        f"test-{os.getpid()}@%h",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 60
    while b"ready." not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"celery worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    _started_worker_logs.append(log)
    yield {"proc": proc, "log": log}
    _started_worker_logs.clear()
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


_ENDED = (
    b"] succeeded in",
    b"] raised unexpected",
    b"] retry:",
    b"] raised expected",
    b"] ignored",
)


def _worker_busy(text: bytes) -> bool:
    """The suite's worker has a task it received and has not finished (read from its log)."""
    return text.count(b"] received") > sum(text.count(marker) for marker in _ENDED)


@pytest.fixture(autouse=True)
def _suite_worker_idle_before_teardown():
    """Once the suite's worker runs, wait after each test (20 s at most, never failing) until it
    has finished what the test sent it (its uploads, even those it did not wait for, and the work
    after a result's commit: notices, the next dispatch): none of it may overlap the test
    database's flush, which on PostgreSQL is a TRUNCATE of every table and deadlocks with a
    statement that reads two of them. Only the log written during the test is read, so a task
    left unfinished earlier never makes later tests wait."""
    start = _started_worker_logs[0].stat().st_size if _started_worker_logs else 0
    yield
    if not _started_worker_logs:
        return
    log = _started_worker_logs[0]
    deadline = time.monotonic() + 20
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        with log.open("rb") as f:
            f.seek(start)
            if _worker_busy(f.read()):
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= 0.3:  # a message sent at the last commit
                return
        time.sleep(0.1)
