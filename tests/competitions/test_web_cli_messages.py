"""What the `podium` CLI says when things go wrong, and its progress output in a log (issue 15)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from competitions.services.tokens import token_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def _podium(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "competitions.cli", *args],
        cwd=ROOT,
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _server_that_hangs_up() -> tuple[socket.socket, int]:
    """Accepts connections and closes them without an answer (a crashed proxy, a reset)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return sock, sock.getsockname()[1]


def test_unreachable_server_is_one_line_not_a_traceback(tmp_path):
    sock, port = _server_that_hangs_up()
    model = tmp_path / "m.onnx"
    model.write_bytes(b"\0" * 1000)
    env = {"PODIUM_TOKEN": "pod_x", "XDG_CONFIG_HOME": str(tmp_path)}
    try:
        for args in (["competitions"], ["submit", str(model), "-c", "x", "--no-wait"]):
            run = _podium("--server", f"http://127.0.0.1:{port}", *args, env=env)
            assert run.returncode == 2
            # One line for the failure (after the upload's own line, when there was one).
            lines = [line for line in run.stderr.splitlines() if line.strip()]
            assert "Traceback" not in run.stderr and len(lines) <= 2, run.stderr
            assert lines[-1].startswith("error: unreachable http://127.0.0.1:")
    finally:
        sock.close()


def test_unauthorized_hints_at_podium_login(live_server, users, tmp_path):
    env = {"PODIUM_TOKEN": "pod_revoked", "XDG_CONFIG_HOME": str(tmp_path)}
    run = _podium("--server", live_server.url, "competitions", env=env)
    assert run.returncode == 2
    assert "error 401: unauthorized" in run.stderr and "run `podium login`" in run.stderr


def test_progress_without_carriage_returns_when_not_a_terminal(
    live_server, users, competition, models, tmp_path
):
    _, key = token_create(user=users["alice"], name="ci")
    model = tmp_path / "net.onnx"
    model.write_bytes(models["good"])
    env = {"PODIUM_TOKEN": key, "XDG_CONFIG_HOME": str(tmp_path)}
    run = _podium(
        "--server",
        live_server.url,
        "submit",
        str(model),
        "-c",
        competition.slug,
        "--no-wait",
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert "\r" not in run.stderr
    assert run.stderr.count("upload net.onnx [") == 1 and "100%" in run.stderr
