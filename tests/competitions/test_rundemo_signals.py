"""`make demo`'s last step, `manage.py rundemo`, stopped the ways a service manager, CI or a
closed terminal stop it: the web server and the worker stop with it and the port is free again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _with_port(port: int) -> list[int]:
    """Processes whose command line names the port (runserver's): none may outlive rundemo."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if (
            proc.name.isdigit()
            and f"127.0.0.1:{port}".encode() in cmdline
            and _alive(int(proc.name))
        ):
            found.append(int(proc.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL])
def test_rundemo_stopped_by_a_signal_stops_web_and_worker(sig, tmp_path):
    port = _free_port()
    env = dict(os.environ, PODIUM_BROKER_DIR=str(tmp_path / "broker"))
    demo = subprocess.Popen(
        [sys.executable, "manage.py", "rundemo", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert demo.stdout is not None
        line = ""
        while "web pid" not in line:
            line = demo.stdout.readline()
            assert line, "rundemo exited before starting its children"
        pids = [int(p) for p in line.replace(",", " ").split() if p.isdigit()]
        deadline = time.monotonic() + 120
        while not _listening(port):
            assert time.monotonic() < deadline, "runserver never listened"
            time.sleep(0.3)
        demo.send_signal(sig)
        demo.wait(timeout=60)
        deadline = time.monotonic() + 60  # SIGKILL: the children hear it from the kernel
        while any(_alive(p) for p in pids) or _listening(port) or _with_port(port):
            assert time.monotonic() < deadline, f"left running: {pids}, {_with_port(port)}"
            time.sleep(0.3)
    finally:
        if demo.poll() is None:
            demo.kill()
