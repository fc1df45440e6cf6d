"""The `podium` CLI against a live server and a real worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from competitions.models import Submission
from competitions.services.tokens import token_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def test_cli_submit_waits_and_prints_result(
    live_server, users, competition, models, celery_worker, tmp_path
):
    _, key = token_create(user=users["alice"])
    model = tmp_path / "cli model.onnx"
    model.write_bytes(models["good"])
    env = dict(
        os.environ, PODIUM_TOKEN=key, PODIUM_URL=live_server.url, XDG_CONFIG_HOME=str(tmp_path)
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "competitions.cli",
            "submit",
            str(model),
            "--competition",
            competition.slug,
            "--preprocess",
            "unit",
            "--poll",
            "0.3",
            "--timeout",
            "90",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "status: scored" in run.stdout and "public score: 0." in run.stdout
    assert "upload cli model.onnx [" in run.stderr and "100%" in run.stderr
    sub = Submission.objects.get(user=users["alice"])
    assert sub.status == "scored" and f"{sub.public_score:.4f}" in run.stdout

    board = subprocess.run(
        [sys.executable, "-m", "competitions.cli", "leaderboard", competition.slug],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert board.returncode == 0 and "alice" in board.stdout

    no_token = dict(env, PODIUM_TOKEN="")
    fail = subprocess.run(
        [sys.executable, "-m", "competitions.cli", "competitions"],
        cwd=ROOT,
        env=no_token,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert fail.returncode != 0 and "PODIUM_TOKEN" in fail.stderr


def test_python_api_submits_waits_and_lists_status(
    live_server, users, competition, models, celery_worker, tmp_path, monkeypatch
):
    import podium_client
    from podium_client.api import status

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("PODIUM_TOKEN", raising=False)
    path = podium_client.login(username="alice", password="pw-alice-123", server=live_server.url)
    assert path.parent == tmp_path and oct(path.stat().st_mode & 0o777) == "0o600"
    model = tmp_path / "nb.onnx"
    model.write_bytes(models["good"])
    seen: list[float] = []
    result = podium_client.submit(
        model,
        competition=competition.slug,
        preprocess="unit",
        poll=0.3,
        timeout=90,
        progress=seen.append,
    )  # the server comes from the config file login wrote
    sub = Submission.objects.get(user=users["alice"])
    assert result["status"] == "scored" and result["id"] == str(sub.pk)
    assert result["public_score"] == pytest.approx(sub.public_score)
    assert seen and seen[-1] == 1.0
    listed = status(competition=competition.slug)
    assert [s["id"] for s in listed] == [str(sub.pk)]
    assert status(str(sub.pk))[0]["status"] == "scored"


def test_python_api_raises_the_servers_code_and_message(
    live_server, users, competition, tmp_path, monkeypatch
):
    import podium_client

    _, key = token_create(user=users["alice"])
    monkeypatch.setenv("PODIUM_TOKEN", key)
    monkeypatch.setenv("PODIUM_URL", live_server.url)
    bad = tmp_path / "notes.txt"
    bad.write_text("not a model")
    with pytest.raises(podium_client.PodiumError) as info:
        podium_client.submit(bad, competition=competition.slug, wait=False)
    assert info.value.code == "bad_format" and info.value.status == 400
    with pytest.raises(podium_client.PodiumError) as info:
        podium_client.status(competition="no-such-competition")
    assert info.value.code == "not_found" and info.value.status == 404
