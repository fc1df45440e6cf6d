"""What the reliability tests do to a private stack: submit, read a row, wait on a status, sweep."""

from __future__ import annotations

import time
from typing import Any

from testsupport.procs import wait_for
from testsupport.stack import Stack, api_submit

SWEEP = """
import datetime as dt
from django.utils import timezone
from competitions.services.grading import submissions_sweep
result = submissions_sweep(now=timezone.now() + dt.timedelta(seconds=params["ahead_s"]))
"""


def sweep(stack: Stack, ahead_s: float = 7200) -> dict[str, int]:
    """Run the sweeper as beat would once `ahead_s` more seconds have passed."""
    return dict(stack.django(SWEEP, ahead_s=ahead_s))


def row(stack: Stack, sid: str) -> dict[str, Any]:
    cols = (
        "status",
        "attempts",
        "log",
        "public_score",
        "private_score",
        "result",
        "error_code",
        "error_message",
        "counts_toward_quota",
        "progress",
    )
    hexid = sid.replace("-", "")
    rows = stack.sql(
        f"SELECT {', '.join(cols)} FROM competitions_submission"
        f" WHERE REPLACE(CAST(id AS TEXT), '-', '') = '{hexid}'"
    )
    assert len(rows) == 1, f"{len(rows)} rows for {sid}"
    return dict(zip(cols, rows[0], strict=True))


def wait_status(
    stack: Stack,
    sid: str,
    statuses: tuple[str, ...],
    timeout: float = 90,
    attempts: int | None = None,
) -> dict[str, Any]:
    def ok() -> dict[str, Any] | None:
        r = row(stack, sid)
        if r["status"] in statuses and (attempts is None or r["attempts"] == attempts):
            return r
        return None

    return wait_for(ok, timeout, f"{sid} to be {statuses}", interval=0.1)


def wait_running(stack: Stack, sid: str, attempt: int, timeout: float = 90) -> None:
    """Until the attempt is running and the model is loaded (the worker is mid-grading)."""
    wait_status(stack, sid, ("running",), timeout, attempts=attempt)
    time.sleep(1.0)
    assert row(stack, sid)["status"] == "running", "graded too fast to be interrupted"


def submit(
    stack: Stack,
    tokens: dict[str, str],
    data: bytes,
    user: str = "student000",
    slug: str = "digits",
) -> str:
    status, body = api_submit(stack.web_url, tokens[user], slug, data)
    assert status == 201, (status, body)
    return str(body["id"])


def competition(slug: str = "digits", **kw: Any) -> dict[str, Any]:
    return {
        "slug": slug,
        "title": slug.title(),
        "queue": "cpu",
        "daily_limit": 50,
        "total_limit": 100,
        "time_limit_s": 60,
        **kw,
    }
