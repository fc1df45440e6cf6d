"""Where the OS limits of the sandbox are missing (macOS, Windows), `grader check` still scores and
says which limits it could not apply; where select() cannot wait on pipes (Windows), a reader
thread takes its place and the time limit still holds. Both simulated here on Linux by hooks."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import grader
from grader.datasets import Dataset
from grader.errors import RunFailed
from grader.sandbox import GRACE_S, SandboxPool
from grader.types import Limits
from testsupport.hostile import endless_loop
from testsupport.onnx_build import Weights, linear_model, raw

REPO = Path(__file__).resolve().parents[2]


def test_without_os_memory_limits_the_model_is_scored_and_the_missing_limit_named(
    trained: Weights, mnist_small: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = raw(linear_model(*trained, ["N", 784], layout="flat_hwc"))
    limited = grader.grade(good, "m.onnx", mnist_small, pool=SandboxPool(warm=False))
    assert not any("memory limit" in x for x in limited.limits_not_applied)
    monkeypatch.setenv("PODIUM_TEST_NO_OS_LIMITS", "1")
    r = grader.grade(good, "m.onnx", mnist_small, pool=SandboxPool(warm=False))
    assert r.accuracy == limited.accuracy
    assert "memory limit" in r.limits_not_applied[0]
    assert r.limits_not_applied[1:] == [
        "process isolation (namespaces, Landlock, seccomp): not on Linux"
    ]


def test_check_prints_and_reports_the_limits_it_could_not_apply(tmp_path: Path) -> None:
    model = REPO / "reference" / "models" / "mnist_logreg.onnx"
    env = {"PATH": "/usr/bin:/bin", "PODIUM_TEST_NO_OS_LIMITS": "1"}
    cmd = [sys.executable, "-m", "grader", "check", str(model), "--preprocess", "mnist"]
    human = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert human.returncode == 0, human.stderr
    assert "Not applied on this machine: memory limit" in human.stdout
    js = subprocess.run(
        [*cmd, "--json"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    out = json.loads(js.stdout)
    assert out["ok"] and out["accuracy"] > 0.9 and "memory limit" in out["limits_not_applied"][0]


def test_reader_thread_instead_of_select_scores_the_same_and_keeps_the_time_limit(
    trained: Weights, mnist_small: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = raw(linear_model(*trained, ["N", 784], layout="flat_hwc"))
    expected = grader.grade(good, "m.onnx", mnist_small, pool=SandboxPool(warm=False))
    monkeypatch.setenv("PODIUM_TEST_NO_SELECT", "1")
    pool = SandboxPool(warm=False)
    r = grader.grade(good, "m.onnx", mnist_small, pool=pool)
    assert (r.predictions == expected.predictions).all()
    t0 = time.monotonic()
    with pytest.raises(RunFailed) as info:
        grader.grade(
            endless_loop(trained), "loop.onnx", mnist_small, limits=Limits(time_s=2), pool=pool
        )
    assert info.value.code == "time_limit" and "2 s limit" in info.value.message
    assert time.monotonic() - t0 < 2 + GRACE_S + 3
