"""`make bench-leaderboard`: the leaderboard page and API with 500 participants and 10,000
submissions, server time and SQL queries, against the same 500 participants with one submission
each (the baseline, measured in the same run): the ratio shows whether the cost depends on the
number of submissions. Goal: under 30 ms, at most 6 queries, ratio near 1. Every submission has
per-image correctness (random, at its score), so the standing refresh includes the tie tests.

Runs on a throwaway database: a temporary SQLite file, or with DATABASE_URL=postgres://.../X a
database named X_bench that it creates and drops.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPEATS = 15


def _setup_env() -> tuple[str, str | None]:
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        base, _, name = url.rpartition("/")
        bench = f"{name or 'podium'}_bench"
        os.environ["DATABASE_URL"] = f"{base}/{bench}"
        return os.environ["DATABASE_URL"], f"{base}/postgres"
    tmp = tempfile.mkdtemp(prefix="podium-bench-")
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    return os.environ["DATABASE_URL"], None


def _populate(slug: str, participants: int, per_participant: int) -> Any:
    from django.contrib.auth import get_user_model

    from competitions.models import Competition, Course, HeldOutDataset, Submission
    from competitions.significance import correct_pack

    User = get_user_model()
    course, _ = Course.objects.get_or_create(
        slug="bench", defaults={"name": "Bench", "enrollment_code": "BENCH"}
    )
    ds, _ = HeldOutDataset.objects.get_or_create(
        name="bench-mnist",
        defaults={
            "file": "none.npz",
            "source_format": "npz",
            "n_images": 10000,
            "sha256": "0" * 64,
            "file_sha256": "0" * 64,
            "file_bytes": 0,
            "classes": [str(i) for i in range(10)],
            "image_shape": [28, 28, 1],
        },
    )
    now = dt.datetime.now(dt.UTC)
    comp = Competition.objects.create(
        course=course,
        slug=slug,
        title=slug,
        dataset=ds,
        closes_at=now + dt.timedelta(days=7),
        visibility="public",
    )
    users = User.objects.bulk_create([User(username=f"{slug}-u{i}") for i in range(participants)])
    rng = random.Random(0)
    bits = np.random.default_rng(0)
    subs = []
    for u in users:
        for k in range(per_participant):
            score = rng.random()
            subs.append(
                Submission(
                    competition=comp,
                    user=u,
                    file="x.onnx",
                    file_format="onnx",
                    sha256="0" * 64,
                    original_name="m.onnx",
                    status="scored",
                    public_score=score,
                    private_score=score,
                    params=rng.randint(1000, 10**6),
                    macs=10**6,
                    file_bytes=1000,
                    created_at=now - dt.timedelta(minutes=k),
                    # per-image correctness, so the standings compare neighbours for real
                    correct=correct_pack(bits.random(ds.n_images) < score),
                )
            )
    Submission.objects.bulk_create(subs, batch_size=2000)
    from competitions.services.standings import standings_rebuild

    t0 = time.perf_counter()
    standings_rebuild(competition=comp)  # bulk_create bypasses the services that keep it
    print(
        f"{slug}: standings rebuilt from {len(subs)} submissions in "
        f"{(time.perf_counter() - t0) * 1000:.0f} ms"
    )
    return comp


def _measure(path: str, token: str) -> tuple[float, int]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(headers={"Authorization": f"Bearer {token}"})
    warm = client.get(path)
    assert warm.status_code == 200, (path, warm.status_code, warm.content[:2000])
    times = []
    queries = 0
    for _ in range(REPEATS):
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            resp = client.get(path)
            times.append(time.perf_counter() - t0)
        assert resp.status_code == 200, resp.status_code
        queries = len(ctx.captured_queries)
    return statistics.median(times) * 1000, queries


def main() -> None:
    url, admin_url = _setup_env()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    if admin_url:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(
            admin_url.replace("postgres://", "postgresql://"), autocommit=True
        ) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}"')
            c.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment()
    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    from competitions.services.tokens import token_create

    _, token = token_create(user=get_user_model().objects.create(username="bench-reader"))
    big = _populate("lb-big", 500, 20)
    small = _populate("lb-small", 500, 1)
    print(f"database: {url.split('://')[0]}; 500 participants; REPEATS={REPEATS}, median times")
    print(
        f"{'what':<34}{'10,000 subs ms':>15}{'queries':>9}{'500 subs ms':>13}{'queries':>9}{'ratio':>7}"
    )
    for what, fmt in (
        ("leaderboard page", "/c/{}/leaderboard/"),
        ("leaderboard API", "/api/competitions/{}/leaderboard"),
    ):
        tb, qb = _measure(fmt.format(big.slug), token)
        ts, qs = _measure(fmt.format(small.slug), token)
        print(f"{what:<34}{tb:>15.1f}{qb:>9}{ts:>13.1f}{qs:>9}{tb / ts:>7.2f}")
    # The write side: what a worker adds to each result it writes (one entrant's row).
    from competitions.models import Submission
    from competitions.services.standings import standing_refresh_for

    costs = []
    for comp in (big, small):
        subs = list(Submission.objects.filter(competition=comp)[:REPEATS])
        t = []
        for sub in subs:
            t0 = time.perf_counter()
            standing_refresh_for(submission=sub)
            t.append(time.perf_counter() - t0)
        costs.append(statistics.median(t) * 1000)
    print(
        f"{'standing refresh (per result)':<34}{costs[0]:>15.1f}{'':>9}{costs[1]:>13.1f}"
        f"{'':>9}{costs[0] / costs[1]:>7.2f}"
    )


if __name__ == "__main__":
    main()
