"""Processes for private test stacks: a child in its own session, a private redis-server and a
private PostgreSQL cluster on spare ports, and the waits between them.

Nothing here touches the machine's shared services' data; a test that must stop a server starts
its own here.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class Proc:
    """A child process in its own session (so a kill reaches its children), logging to a file."""

    def __init__(
        self, name: str, cmd: list[str], *, env: dict[str, str], log: Path, user: str | None = None
    ) -> None:
        self.name, self.cmd, self.log = name, cmd, log
        if user is not None:
            cmd = ["runuser", "-u", user, "--", *cmd]
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_log(self, marker: str, timeout: float = 90.0, since: int = 0) -> None:
        def seen() -> bool:
            if not self.alive():
                raise RuntimeError(
                    f"{self.name} exited ({self.popen.returncode}):\n{self.text()[-3000:]}"
                )
            return marker in self.text()[since:]

        wait_for(seen, timeout, f"{marker!r} in {self.name}'s log")

    def signal(self, sig: int) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def kill9(self) -> None:
        """SIGKILL to the whole process group (the worker and its sandbox children)."""
        self.signal(signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self, timeout: float = 20.0) -> None:
        if self.alive():
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait(timeout=30)
        else:
            self.signal(signal.SIGKILL)  # children left in the group, if any


class RedisServer:
    """A private, non-persistent redis-server on a spare port (stop/start keep the port)."""

    def __init__(self, workdir: Path, *, also_bind: str = "") -> None:
        """also_bind: one more address to listen on (a test's own network namespace link)."""
        if not shutil.which("redis-server"):
            raise RuntimeError("redis-server not found")
        self.workdir, self.port = workdir, free_port()
        self.also_bind = also_bind
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        cmd = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            " ".join(filter(None, ["127.0.0.1", self.also_bind])),
            "--protected-mode",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(self.workdir),
        ]
        self.proc = Proc("redis", cmd, env=dict(os.environ), log=self.workdir / "redis.log")
        wait_for(lambda: port_open(self.port), 30, "redis-server")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None


class PostgresServer:
    """A private PostgreSQL cluster (initdb in a temp dir, trust auth, unix socket in the dir)."""

    def __init__(self, workdir: Path, *, also_listen: str = "", trust_from: str = "") -> None:
        """also_listen: one more address to listen on; trust_from: the one client address
        (a test's own network namespace) allowed in over it, with trust auth."""
        self.also_listen, self.trust_from = also_listen, trust_from
        bindirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        if not bindirs:
            raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql")
        self.bin = bindirs[-1]
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None  # initdb refuses to run as root
        self.proc: Proc | None = None
        # Its own directory under /tmp: the server user must reach it (pytest's tmp is 0700).
        self.home = Path(tempfile.mkdtemp(prefix="podium-pg-"))
        self.dir = self.home / "pgdata"
        self.dir.mkdir()
        if self.user:
            shutil.chown(self.home, self.user)
            shutil.chown(self.dir, self.user)
        cmd = [
            str(self.bin / "initdb"),
            "-D",
            str(self.dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        ]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if r.returncode:
            shutil.rmtree(self.home, ignore_errors=True)
            raise RuntimeError(f"initdb failed: {r.stderr[-500:]}")
        if trust_from:
            with (self.dir / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {trust_from}/32 trust\n")

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        cmd = [
            str(self.bin / "postgres"),
            "-D",
            str(self.dir),
            "-p",
            str(self.port),
            "-k",
            str(self.dir),
            "-c",
            "listen_addresses=" + ",".join(filter(None, ["127.0.0.1", self.also_listen])),
            "-c",
            "fsync=off",
        ]
        self.proc = Proc(
            "postgres", cmd, env=dict(os.environ), log=self.home / "pg.log", user=self.user
        )
        wait_for(lambda: _pg_ready(self.url("postgres")), 60, "postgres to accept connections")

    def stop(self, mode: int = signal.SIGINT) -> None:
        """SIGINT: PostgreSQL's 'fast' shutdown (clients are disconnected)."""
        if self.proc is not None:
            self.proc.signal(mode)
            try:
                self.proc.popen.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill9()
            self.proc = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _pg_ready(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(pg_conninfo(url), connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def pg_conninfo(url: str) -> str:
    u = urllib.parse.urlparse(url)
    parts = [
        f"host={u.hostname or '127.0.0.1'}",
        f"port={u.port or 5432}",
        f"dbname={u.path.lstrip('/') or 'postgres'}",
        f"user={u.username or 'postgres'}",
    ]
    if u.password:
        parts.append(f"password={urllib.parse.unquote(u.password)}")
    return " ".join(parts)


def _pg_admin(url: str) -> tuple[str, str]:
    u = urllib.parse.urlparse(url)
    return pg_conninfo(u._replace(path="/postgres").geturl()), u.path.lstrip("/")


def pg_create_database(url: str) -> None:
    import psycopg

    conninfo, name = _pg_admin(url)
    with psycopg.connect(conninfo, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')


def pg_drop_database(url: str) -> None:
    import psycopg

    conninfo, name = _pg_admin(url)
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.OperationalError:
        pass  # a private server already gone


def _session_rss_kib(sid: int) -> int:
    """Resident memory of every process in session `sid`, from /proc (Linux)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[3]) != sid:  # field 6 of stat: the session id
                continue
            for line in Path(f"/proc/{entry}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total


def tree_rss(pid: int) -> dict[int, float]:
    """Resident memory (MB) of `pid` and each of its descendants, whatever their sessions (the
    sandbox children start sessions of their own), from /proc (Linux)."""
    parents: dict[int, int] = {}
    rss: dict[int, float] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            parents[int(entry)] = int(fields[1])
            rss[int(entry)] = int(fields[21]) * page / 2**20
        except (OSError, IndexError, ValueError):
            continue
    tree, todo = {pid}, [pid]
    while todo:
        parent = todo.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in tree:
                tree.add(child)
                todo.append(child)
    return {p: rss[p] for p in tree if p in rss}


def tree_rss_mb(pid: int) -> float:
    """Resident memory of `pid` and all its descendants, in MB."""
    return sum(tree_rss(pid).values())


def run_measured(cmd: list[str], *, timeout: float, env: dict[str, str] | None = None) -> Measured:
    """Run `cmd` in a session of its own, sampling the whole process tree's resident memory (the
    sandbox children included) every 20 ms: exit status, output, peak MB and wall seconds."""
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _session_rss_kib(proc.pid))
        if time.monotonic() - t0 > timeout:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise TimeoutError(f"{cmd} ran past {timeout} s")
        time.sleep(0.02)
    out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    return Measured(proc.returncode, out, peak / 1024, time.monotonic() - t0)


class Measured(NamedTuple):
    rc: int
    output: str
    peak_mb: float
    wall_s: float
