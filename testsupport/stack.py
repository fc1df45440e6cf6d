"""A private Podium for tests and benchmarks: its own var dir, database, broker, web server and
workers, plus the seed data and the REST calls the reliability tests and the load benchmark make.

The stack never touches the machine's shared services' data: SQLite in its temp dir, or (when
DATABASE_URL is postgres://...) a fresh database on that server, dropped afterwards; the
filesystem broker in the temp dir, or (when CELERY_BROKER_URL is redis://...) a private
`redis-server` on a spare port.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

from testsupport.procs import (
    ROOT,
    Proc,
    RedisServer,
    free_port,
    pg_conninfo,
    pg_create_database,
    pg_drop_database,
    port_open,
    wait_for,
)

PY = sys.executable

_SNIPPET_PRELUDE = """\
import json, os, sys
sys.path.insert(0, {root!r})
import django
django.setup()
params = json.loads(os.environ["PODIUM_SNIPPET_PARAMS"])
result = None
"""


class Stack:
    """A private Podium: its own var dir, database, broker, web server and workers.

    database: None = follow DATABASE_URL's kind (SQLite file here, or a new database on that
    PostgreSQL server); or a postgres:// URL of a database this stack may create and drop.
    broker: "auto" = follow CELERY_BROKER_URL's kind ("filesystem" here, or "redis": a private
    redis-server); "redis" forces a private redis-server.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        database: str | None = None,
        broker: str = "auto",
        env: dict[str, str] | None = None,
        redis_also_bind: str = "",
    ) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.var = workdir / "var"
        self.procs: list[Proc] = []
        self.redis: RedisServer | None = None
        self.web_url = ""
        self._n = 0
        self._pg_created: str | None = None
        configured_db = os.environ.get("DATABASE_URL", "")
        if database is None and configured_db.startswith(("postgres://", "postgresql://")):
            name = f"podium_rel_{os.getpid()}_{uuid.uuid4().hex[:8]}"
            database = urllib.parse.urlparse(configured_db)._replace(path="/" + name).geturl()
        if database is not None:
            pg_create_database(database)
            self._pg_created = database
            self.database_url = database
        else:
            self.database_url = f"sqlite:///{self.var / 'podium.sqlite3'}"
        if broker == "auto":
            configured = os.environ.get("CELERY_BROKER_URL", "filesystem://")
            broker = "redis" if configured.startswith("redis") else "filesystem"
        if broker == "redis":
            self.redis = RedisServer(workdir, also_bind=redis_also_bind)
            self.redis.start()
            self.broker_url = self.redis.url
        else:
            self.broker_url = "filesystem://"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "COV"))}
        self.env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings_test",
                "DEBUG": "1",
                "PODIUM_VAR_DIR": str(self.var),
                "DATABASE_URL": self.database_url,
                "CELERY_BROKER_URL": self.broker_url,
                "PYTHONUNBUFFERED": "1",
                "LOG_LEVEL": "INFO",
                "PYTHONPATH": str(ROOT),
                "OMP_NUM_THREADS": "1",
            }
        )
        self.env.update(env or {})

    # Django-side helpers ----------------------------------------------------------------------

    def manage(self, *args: str, timeout: float = 300) -> str:
        r = subprocess.run(
            [PY, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if r.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
        return r.stdout

    def migrate(self) -> None:
        self.manage("migrate", "--noinput", "-v", "0")

    def django(self, code: str, timeout: float = 180, **params: Any) -> Any:
        """Run `code` in a fresh Python process with Django set up on this stack; it may read
        `params` and set `result` (returned, through JSON)."""
        self._n += 1
        path = self.workdir / f"snippet{self._n}.py"
        marker = "@@PODIUM_RESULT@@"
        path.write_text(
            _SNIPPET_PRELUDE.format(root=str(ROOT))
            + textwrap.dedent(code)
            + f"\nprint({marker!r} + json.dumps(result, default=str))\n"
        )
        env = dict(self.env, PODIUM_SNIPPET_PARAMS=json.dumps(params, default=str))
        r = subprocess.run(
            [PY, str(path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
        )
        if r.returncode or marker not in r.stdout:
            raise RuntimeError(
                f"snippet failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}"
            )
        return json.loads(r.stdout.rsplit(marker, 1)[1].strip().splitlines()[0])

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        """A read straight from the database (no Django start-up): for polling and checks."""
        if self.database_url.startswith("sqlite"):
            lite = sqlite3.connect(self.database_url.removeprefix("sqlite:///"), timeout=30)
            try:
                return list(lite.execute(query).fetchall())
            finally:
                lite.close()
        import psycopg

        with psycopg.connect(pg_conninfo(self.database_url), connect_timeout=5) as con:
            return list(con.execute(query).fetchall())

    # processes ---------------------------------------------------------------------------------

    def start_worker(
        self,
        name: str,
        queues: str = "cpu,gpu",
        *,
        beat: bool = False,
        env: dict[str, str] | None = None,
        wait: bool = True,
        wrap: list[str] | None = None,
    ) -> Proc:
        """wrap: a command prefix, e.g. `ip netns exec <ns>` for a worker on another host."""
        cmd = [
            *(wrap or []),
            PY,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queues,
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
            f"{name}-{os.getpid()}@%h",
        ]
        if beat:
            cmd += ["-B", "-s", str(self.workdir / f"beat-{name}")]
        proc = Proc(
            f"worker {name}",
            cmd,
            env=dict(self.env, **(env or {})),
            log=self.workdir / f"worker-{name}.log",
        )
        self.procs.append(proc)
        if wait:
            proc.wait_log("ready.")
        return proc

    def start_web(
        self,
        *,
        workers: int = 2,
        threads: int = 8,
        env: dict[str, str] | None = None,
        asgi: bool = False,
    ) -> Proc:
        """gunicorn (WSGI), or with asgi=True hypercorn serving config.asgi: the server whose
        streams (competitions/views/streams.py) hold no thread, as in `make demo`."""
        port = free_port()
        if asgi:
            return self._start(
                port,
                [PY, "-m", "hypercorn", "config.asgi:application", "-b", f"127.0.0.1:{port}"],
                env,
            )
        cmd = [
            PY,
            "-m",
            "gunicorn",
            "config.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-k",
            "gthread",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--timeout",
            "120",
            "--graceful-timeout",
            "5",
            "--log-level",
            "warning",
        ]
        return self._start(port, cmd, env)

    def _start(self, port: int, cmd: list[str], env: dict[str, str] | None) -> Proc:
        proc = Proc("web", cmd, env=dict(self.env, **(env or {})), log=self.workdir / "web.log")
        self.procs.append(proc)
        self.web_url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            if not proc.alive():
                raise RuntimeError(f"web exited:\n{proc.text()[-3000:]}")
            return port_open(port)

        wait_for(up, 90, "the web server")
        return proc

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
        if self.redis is not None:
            self.redis.stop()
        if self._pg_created:
            pg_drop_database(self._pg_created)
            self._pg_created = None

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


SEED = """
import datetime as dt
from django.contrib.auth import get_user_model
from django.utils import timezone
from competitions.models import Competition, Membership
from competitions.services.courses import course_create
from competitions.services.datasets import dataset_import
from competitions.services.tokens import token_create

User = get_user_model()
teacher = User.objects.create_user("teacher", "t@example.org", "pw-teacher-123", is_staff=True)
course = course_create(slug="rel", name="Reliability", instructor=teacher, code="RELCODE1")
from pathlib import Path
dataset = dataset_import(path=Path(params["npz"]), name="MNIST 500")
tokens = {"teacher": token_create(user=teacher, name="bench")[1]}
for i in range(params["users"]):
    u = User.objects.create_user(f"student{i:03d}", f"s{i}@example.org", "pw-student-123")
    Membership.objects.create(course=course, user=u)
    tokens[u.username] = token_create(user=u, name="bench")[1]
now = timezone.now()
for c in params["competitions"]:
    Competition.objects.create(
        course=course, dataset=dataset, opens_at=now - dt.timedelta(days=1),
        closes_at=now + dt.timedelta(days=7), max_team_size=1,
        public_fraction=0.5, split_seed=7, created_by=teacher,
        **{"allowed_formats": ["onnx"], **c})
result = tokens
"""


def seed(
    stack: Stack, *, npz: Path, users: int, competitions: list[dict[str, Any]]
) -> dict[str, str]:
    """Teacher, `users` students in one course, the dataset and competitions; returns the API
    tokens by username."""
    return dict(stack.django(SEED, npz=str(npz), users=users, competitions=competitions))


def api_submit(
    base: str, token: str, slug: str, data: bytes, *, timeout: float = 120, name: str = "model.onnx"
) -> tuple[int, dict[str, Any]]:
    import requests

    r = requests.post(
        f"{base}/api/competitions/{slug}/submissions",
        timeout=timeout,
        headers={"Authorization": f"Bearer {token}"},
        files={"file": (name, data, "application/octet-stream")},
    )
    try:
        body = r.json()
    except ValueError:
        body = {"text": r.text[:500]}
    return r.status_code, body


def api_get(base: str, token: str, path: str, timeout: float = 60) -> Any:
    import requests

    r = requests.get(
        f"{base}/api{path}", headers={"Authorization": f"Bearer {token}"}, timeout=timeout
    )
    r.raise_for_status()
    return r.json()
