"""A small run of the load benchmark (bench/load.py; the full one is `make bench-load`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_load_smoke_40_submissions_8_clients(tmp_path, rel_data):
    out = tmp_path / "report.json"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.load",
            "--submissions",
            "40",
            "--clients",
            "8",
            "--drain-timeout",
            "240",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=290,
    )
    assert out.exists(), r.stdout[-3000:] + r.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["ok"], report["problems"]
    assert report["errors"] == 0 and report["accepted"] + report["quota_refused"] == 40
    assert report["quota_refused"] > 0  # the quota path is exercised, and answered 429
    assert set(report["per_queue"]) == {"cpu", "gpu"}  # both routes, both workers
    assert report["tasks_per_worker"]["cpu"] and report["tasks_per_worker"]["gpu"]
    assert r.returncode == 0
