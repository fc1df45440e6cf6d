"""Load benchmark: a private Podium stack (database, broker, web, workers) under a burst of uploads.

`python -m bench.load [--submissions 500] [--clients 50]` runs the load benchmark: a burst of
submissions through the REST API from concurrent clients (threads, against 127.0.0.1) while two
`celery worker` processes grade them, one on the `cpu` queue and one on the `gpu` queue (half the
competitions are routed to `gpu`; a CPU worker can consume it). It then checks that every
accepted submission was graded exactly once, that each leaderboard equals a recomputation from
the database rows, that no response was an error other than a quota refusal (429) and that no
upload file is orphaned, and reports the time to drain. Exit status 0 only when all checks pass.

The stack never touches the machine's shared services' data: SQLite in the temp dir, or (when
DATABASE_URL is postgres://...) a fresh database on that server, dropped afterwards; the
filesystem broker in the temp dir, or (when CELERY_BROKER_URL is redis://...) a private
`redis-server` on a spare port. The stack itself is testsupport.stack, which the reliability
tests use too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testsupport.mnist import logreg_models, mnist_subset_npz
from testsupport.procs import Proc, wait_for
from testsupport.stack import Stack, api_get, api_submit, seed

# --- checks ------------------------------------------------------------------------------------


def submission_rows(stack: Stack) -> list[dict[str, Any]]:
    cols = (
        "id",
        "status",
        "attempts",
        "log",
        "competition_id",
        "username",
        "public_score",
        "created_at",
        "hidden",
        "disqualified",
        "is_final",
        "is_baseline",
        "file",
        "error_code",
    )
    rows = stack.sql(
        "SELECT s.id, s.status, s.attempts, s.log, s.competition_id, u.username, s.public_score,"
        " s.created_at, s.hidden, s.disqualified, s.is_final, s.is_baseline, s.file, s.error_code"
        " FROM competitions_submission s JOIN auth_user u ON u.id = s.user_id"
    )
    out = []
    for r in rows:
        d = dict(zip(cols, r, strict=True))
        d["id"] = str(uuid.UUID(str(d["id"])))
        out.append(d)
    return out


def leaderboard_recomputed(
    rows: list[dict[str, Any]], competition_id: int
) -> list[tuple[str, float]]:
    """Per student: their chosen scored entry, else their best public score (earliest on ties);
    ranked by score, then time. Mirrors the documented rules, from raw rows (no teams here)."""
    best: dict[str, tuple[int, float, float, Any]] = {}  # (final, score, -time, created_at)
    for r in rows:
        if (
            r["competition_id"] != competition_id
            or r["hidden"]
            or r["disqualified"]
            or r["status"] != "scored"
            or r["public_score"] is None
        ):
            continue
        key = (int(bool(r["is_final"])), r["public_score"], _neg_time(r["created_at"]))
        if r["username"] not in best or key > best[r["username"]][:3]:
            best[r["username"]] = (*key, r["created_at"])
    ranked = sorted(best.items(), key=lambda kv: (-kv[1][1], str(kv[1][3])))
    return [(name, round(v[1], 9)) for name, v in ranked]


def _neg_time(value: Any) -> float:
    import datetime as dt

    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return -value.timestamp()


def check_graded_once(rows: list[dict[str, Any]], accepted: list[str]) -> list[str]:
    """Problems found (empty: every accepted submission exists, scored, graded exactly once)."""
    problems = []
    by_id = {r["id"]: r for r in rows}
    for sid in accepted:
        r = by_id.get(sid)
        if r is None:
            problems.append(f"{sid}: accepted (201) but no row")
            continue
        starts = (r["log"] or "").count("started on")
        if r["status"] != "scored" or r["attempts"] != 1 or starts != 1:
            problems.append(
                f"{sid}: status={r['status']} attempts={r['attempts']} "
                f"starts={starts} error={r['error_code']}"
            )
    extra = set(by_id) - set(accepted)
    if extra:
        problems.append(f"{len(extra)} rows that no client was told about: {sorted(extra)[:3]}")
    return problems


# --- the load run ------------------------------------------------------------------------------


Response = tuple[int, dict[str, Any], float, str]  # status, body, latency, competition slug


def _competitions() -> list[dict[str, Any]]:
    """Four competitions, two routed to each queue. Each client spreads its submissions over all
    four; the last allows 1 a day, so clients with more than 4 submissions hit the quota there."""
    return [
        {
            "slug": f"digits-{i}",
            "title": f"Digits {i}",
            "queue": "gpu" if i % 2 else "cpu",
            "daily_limit": 1 if i == 3 else 50,
            "total_limit": 100,
            "time_limit_s": 60,
        }
        for i in range(4)
    ]


def _burst(
    stack: Stack,
    *,
    tokens: dict[str, str],
    plan: list[list[tuple[str, bytes]]],
    timeout: float,
) -> list[Response]:
    """Every client thread uploads its plan as fast as the server answers."""
    responses: list[Response] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        token = tokens[f"student{i:03d}"]
        for slug, model in plan[i]:
            t0 = time.monotonic()
            try:
                status, body = api_submit(stack.web_url, token, slug, model)
            except Exception as e:  # a refused connection or a timeout is an error too
                status, body = 0, {"code": "exception", "message": repr(e)}
            with lock:
                responses.append((status, body, time.monotonic() - t0, slug))

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(len(plan))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    return responses


def _wait_drained(
    stack: Stack, workers: list[Proc], *, t0: float, timeout: float, log: Callable[[str], None]
) -> None:
    last = [time.monotonic()]

    def drained() -> bool:
        n = int(
            stack.sql(
                "SELECT COUNT(*) FROM competitions_submission WHERE status IN ('queued', 'running')"
            )[0][0]
        )
        if time.monotonic() - last[0] > 15:
            last[0] = time.monotonic()
            log(f"  {n} still queued or running after {time.monotonic() - t0:.0f}s")
        if not all(w.alive() for w in workers):
            raise RuntimeError("a worker died:\n" + "".join(w.text()[-2000:] for w in workers))
        return n == 0

    wait_for(drained, timeout, "the queues to drain", interval=0.5)


def _problems(
    stack: Stack,
    *,
    responses: list[Response],
    expected: int,
    rows: list[dict[str, Any]],
    tokens: dict[str, str],
    comps: list[dict[str, Any]],
) -> list[str]:
    """Every way the run went wrong: not graded exactly once, error responses, 429s that are not
    quota refusals, lost requests, leaderboards that differ from a recomputation, orphan files."""
    accepted = [b["id"] for s, b, _, _ in responses if s == 201]
    problems = check_graded_once(rows, accepted)
    problems += [f"error response {s}: {b}" for s, b, _, _ in responses if s not in (201, 429)][:10]
    problems += [
        f"429 that is not a quota refusal: {b.get('code')}"
        for s, b, _, _ in responses
        if s == 429 and b.get("code") not in ("daily_quota", "total_quota")
    ]
    if len(responses) != expected:
        problems.append(f"{expected - len(responses)} requests never completed")
    comp_ids = dict(stack.sql("SELECT slug, id FROM competitions_competition"))
    for c in comps:
        path = f"/competitions/{c['slug']}/leaderboard?limit=1000"
        board = api_get(stack.web_url, tokens["teacher"], path)
        got = [(r["name"], round(r["score"], 9)) for r in board["rows"]]
        want = leaderboard_recomputed(rows, comp_ids[c["slug"]])
        if got != want:
            problems.append(f"leaderboard {c['slug']}: API {got[:5]} != recomputed {want[:5]}")
    files = [p for p in (stack.var / "private" / "submissions").rglob("*") if p.is_file()]
    if len(files) != len(rows):
        problems.append(f"{len(files)} upload files for {len(rows)} rows (orphans?)")
    return problems


def _latency(responses: list[Response]) -> dict[str, float]:
    lat = sorted(d for _, _, d, _ in responses)
    if not lat:
        return {}
    return {
        "p50": round(lat[len(lat) // 2], 2),
        "p95": round(lat[int(len(lat) * 0.95) - 1], 2),
        "max": round(lat[-1], 2),
    }


def run_load(
    *,
    submissions: int,
    clients: int,
    workdir: Path,
    drain_timeout: float = 1800,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    t_setup = time.monotonic()
    npz = mnist_subset_npz(workdir / "mnist500.npz", 500)
    models = logreg_models()
    comps = _competitions()
    with Stack(workdir / "stack") as stack:
        stack.migrate()
        tokens = seed(stack, npz=npz, users=clients, competitions=comps)
        stack.start_web(workers=2, threads=max(4, min(16, clients // 4)))
        workers = {"cpu": stack.start_worker("cpu", "cpu"), "gpu": stack.start_worker("gpu", "gpu")}
        setup_s = time.monotonic() - t_setup
        log(
            f"stack up in {setup_s:.1f}s ({stack.database_url.split(':')[0]}, "
            f"{stack.broker_url.split(':')[0]} broker); {submissions} submissions, {clients} clients"
        )
        plan: list[list[tuple[str, bytes]]] = [[] for _ in range(clients)]
        for k in range(submissions):
            c, j = k % clients, k // clients
            plan[c].append((comps[(c + j) % 4]["slug"], models[(c + 3 * j) % len(models)]))
        t0 = time.monotonic()
        responses = _burst(stack, tokens=tokens, plan=plan, timeout=drain_timeout)
        burst_s = time.monotonic() - t0
        codes = Counter(s for s, _, _, _ in responses)
        log(f"burst: {len(responses)} requests in {burst_s:.1f}s, codes {dict(codes)}")
        _wait_drained(stack, list(workers.values()), t0=t0, timeout=drain_timeout, log=log)
        total_s = time.monotonic() - t0
        rows = submission_rows(stack)
        problems = _problems(
            stack, responses=responses, expected=submissions, rows=rows, tokens=tokens, comps=comps
        )
        per_queue = Counter(
            q
            for (q,) in stack.sql(
                "SELECT c.queue FROM competitions_submission s JOIN"
                " competitions_competition c ON c.id = s.competition_id"
            )
        )
        accepted = codes[201]
        return {
            "submissions": submissions,
            "clients": clients,
            "database": stack.database_url.split(":")[0],
            "broker": stack.broker_url.split(":")[0],
            "accepted": accepted,
            "quota_refused": codes[429],
            "errors": sum(n for s, n in codes.items() if s not in (201, 429)),
            "status_codes": {str(k): v for k, v in sorted(codes.items())},
            "setup_s": round(setup_s, 1),
            "burst_s": round(burst_s, 1),
            "drain_s": round(total_s, 1),
            "drain_after_burst_s": round(total_s - burst_s, 1),
            "graded_per_s": round(accepted / total_s, 2) if total_s else None,
            "upload_latency_s": _latency(responses),
            "per_queue": dict(per_queue),
            "tasks_per_worker": {q: w.text().count("succeeded in") for q, w in workers.items()},
            "cpus": os.cpu_count(),
            "problems": problems,
            "ok": not problems,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=500)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--drain-timeout", type=float, default=1800)
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="podium-load-"))
    try:
        report = run_load(
            submissions=args.submissions,
            clients=args.clients,
            workdir=workdir,
            drain_timeout=args.drain_timeout,
            log=lambda s: print(s, flush=True),
        )
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"kept {workdir}")
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
