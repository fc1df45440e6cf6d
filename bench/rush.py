"""`python -m bench.rush` (part of `make bench-load`): a deadline rush through a private stack,
first in arrival order (FIFO, the order before the fair queue: PODIUM_QUEUE_ORDER=fifo), then in
the fair order (round-robin by entrant), each on a fresh stack.

300 submissions from 100 students through the REST API: 10 students upload 20 each as fast as
they can, and from two seconds in, 90 others upload one each (10 of them a second one). The
models are the course's reference baselines, MNIST and CIFAR-10 mixed, each with its declared
preprocessing, on 500-image held-out sets; two solo workers on the `cpu` queue (two slots),
each grading with its share of the machine's cores (PODIUM_GRADER_THREADS = cores / 2).

Reported per order: drain time (first upload to last result) against the physical floor, the
sum of each graded submission's bare inference time (plain onnxruntime with the same threads as
a worker, measured here in the same run, bench.grader.bare_loop) divided by the two workers;
also the floor with the bare time at the machine's full thread count (what one worker alone
could do); the wait (started − uploaded) of each student's first submission, p50 and p95, for
the 90 light students and for all; the uploads' span, the mean claim-to-result time, the
share of the drain the workers were grading, and the CPU time each group of processes used
(bench.cpu: web, workers, their children, this client, the database).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.cpu import cpu_ms, cpu_used
from bench.grader import DATA, bare_loop
from grader.datasets import load_dataset
from grader.preprocess import PRESETS
from testsupport.procs import wait_for
from testsupport.reference_models import MANIFEST, REPO
from testsupport.stack import Stack

MODELS = {
    "digits": ["mnist_logreg", "mnist_mlp_50", "mnist_lenet_small", "mnist_cnn_shallow"],
    "cifar": ["cifar10_logreg", "cifar10_cnn_bn"],
}
N_IMAGES, WORKERS = 500, 2
THREADS = max(1, (os.cpu_count() or 2) // WORKERS)  # per grading: the machine shared by two
HEAVY, HEAVY_EACH, LIGHT, LIGHT_TWICE = 10, 20, 90, 10

SEED = """
import datetime as dt
from pathlib import Path
from django.contrib.auth import get_user_model
from django.utils import timezone
from competitions.models import Competition, Membership
from competitions.services.courses import course_create
from competitions.services.datasets import dataset_import
from competitions.services.tokens import token_create

User = get_user_model()
teacher = User.objects.create_user("teacher", "t@example.org", "pw-teacher-123", is_staff=True)
course = course_create(slug="rush", name="Rush", instructor=teacher, code="RUSHCODE")
now = timezone.now()
for slug, npz in params["datasets"].items():
    Competition.objects.create(
        course=course, slug=slug, title=slug, dataset=dataset_import(path=Path(npz), name=slug),
        opens_at=now - dt.timedelta(days=1), closes_at=now + dt.timedelta(days=7),
        allowed_formats=["onnx"], daily_limit=50, total_limit=100, time_limit_s=300)
tokens = {}
for i in range(params["users"]):
    u = User.objects.create_user(f"student{i:03d}", f"s{i}@example.org", "pw-student-123")
    Membership.objects.create(course=course, user=u)
    tokens[u.username] = token_create(user=u, name="rush")[1]
result = tokens
"""


def _reference() -> dict[str, dict[str, Any]]:
    manifest = json.loads(MANIFEST.read_text())
    entries = manifest["models"] if isinstance(manifest, dict) else manifest
    wanted = {m for names in MODELS.values() for m in names}
    return {
        e["name"]: {**e, "bytes": (REPO / "reference" / e["file"]).read_bytes()}
        for e in entries
        if e["name"] in wanted
    }


def _datasets(workdir: Path) -> dict[str, Any]:
    out = {}
    for slug, name in (("digits", "mnist"), ("cifar", "cifar10")):
        ds = load_dataset(DATA[name], split="test").subset(np.arange(N_IMAGES), name=slug)
        path = workdir / f"{slug}.npz"
        np.savez(path, X=ds.images, y=ds.labels)
        out[slug] = (ds, path)
    return out


def bare_seconds(
    models: dict[str, dict[str, Any]], datasets: dict[str, Any], threads: int
) -> dict[str, float]:
    """Plain onnxruntime over the 500 images with `threads` threads, median of three, per model."""
    out = {}
    for slug, names in MODELS.items():
        ds = datasets[slug][0]
        for name in names:
            m = models[name]
            mean, std = (np.asarray(v, np.float32) for v in PRESETS[m["preprocess"]])
            times = [
                bare_loop(m["bytes"], ds, m["layout"], mean, std, threads=threads)[0]
                for _ in range(3)
            ]
            out[name] = statistics.median(times)
    return out


def plan() -> list[list[tuple[str, str]]]:
    """Per student (student000.. heavy first), the (competition, model) of each upload."""
    flat = [(slug, name) for slug, names in MODELS.items() for name in names]
    students = []
    for i in range(HEAVY + LIGHT):
        count = HEAVY_EACH if i < HEAVY else 1 + (i - HEAVY < LIGHT_TWICE)
        slug = "digits" if i % 2 else "cifar"
        names = [n for s, n in flat if s == slug]
        students.append([(slug, names[(i + j) % len(names)]) for j in range(count)])
    return students


def _upload(base: str, token: str, slug: str, model: dict[str, Any]) -> str:
    import requests

    r = requests.post(
        f"{base}/api/competitions/{slug}/submissions",
        headers={"Authorization": f"Bearer {token}"},
        files={"file": (f"{model['name']}.onnx", model["bytes"], "application/octet-stream")},
        data={"preprocess": model["preprocess"]},
        timeout=300,
    )
    assert r.status_code == 201, (r.status_code, r.text[:300])
    return str(r.json()["id"])


def _when(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def run_order(
    order: str,
    workdir: Path,
    models: dict[str, Any],
    datasets: dict[str, Any],
    bare: dict[str, float],
    *,
    bare_full: dict[str, float],
) -> dict[str, Any]:
    env = {
        "PODIUM_QUEUE_ORDER": order,
        "PODIUM_CPU_SLOTS": str(WORKERS),
        "PODIUM_GRADER_THREADS": str(THREADS),
    }
    with Stack(workdir / order, env=env) as stack:
        stack.migrate()
        paths = {slug: str(path) for slug, (_, path) in datasets.items()}
        tokens = dict(stack.django(SEED, datasets=paths, users=HEAVY + LIGHT))
        stack.start_web(workers=2, threads=8)
        for w in range(WORKERS):
            stack.start_worker(f"w{w}", "cpu")
        students, errors = plan(), []

        def student(i: int, delay: float) -> None:
            time.sleep(delay)
            for slug, name in students[i]:
                try:
                    _upload(stack.web_url, tokens[f"student{i:03d}"], slug, models[name])
                except Exception as e:  # reported, and the run is not ok
                    errors.append(f"student{i:03d}: {e}")

        threads = [
            threading.Thread(
                target=student, args=(i, 0.0 if i < HEAVY else 2.0 + (i - HEAVY) * 0.05)
            )
            for i in range(len(students))
        ]
        cpu_before = cpu_ms()
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        def drained() -> bool:
            left = stack.sql(
                "SELECT COUNT(*) FROM competitions_submission WHERE status IN ('queued', 'running')"
            )
            return left[0][0] == 0

        wait_for(drained, 3600, "the queue to drain", interval=1.0)
        cpu = cpu_used(cpu_before, cpu_ms())
        rows = stack.sql(
            "SELECT u.username, s.original_name, s.status, s.created_at, s.started_at,"
            " s.finished_at FROM competitions_submission s JOIN auth_user u ON u.id = s.user_id"
        )
    first: dict[str, tuple[dt.datetime, dt.datetime]] = {}
    for user, _, _, created, started, _ in rows:
        c, s = _when(created), _when(started)
        if user not in first or c < first[user][0]:
            first[user] = (c, s)
    waits = {u: (s - c).total_seconds() for u, (c, s) in first.items()}
    light = [w for u, w in waits.items() if int(u[-3:]) >= HEAVY]
    drain = (max(_when(r[5]) for r in rows) - min(_when(r[3]) for r in rows)).total_seconds()
    graded = [r[1].removesuffix(".onnx") for r in rows if r[2] == "scored"]
    floor = sum(bare[name] for name in graded) / WORKERS
    floor_full = sum(bare_full[name] for name in graded) / WORKERS
    created = sorted(_when(r[3]) for r in rows)
    held = [(_when(r[5]) - _when(r[4])).total_seconds() for r in rows]  # claim to result
    return {
        "order": order,
        "submissions": len(rows),
        "scored": sum(r[2] == "scored" for r in rows),
        "errors": errors,
        "drain_s": round(drain, 1),
        "floor_s": round(floor, 1),
        "drain_over_floor": round(drain / floor, 2),
        "floor_at_full_threads_s": round(floor_full, 1),
        "uploads_span_s": round((created[-1] - created[0]).total_seconds(), 1),
        "claim_to_result_mean_ms": round(1000 * statistics.mean(held), 1),
        "workers_busy_share": round(sum(held) / WORKERS / drain, 2),
        "first_wait_light_p50_s": round(float(np.percentile(light, 50)), 1),
        "first_wait_light_p95_s": round(float(np.percentile(light, 95)), 1),
        "first_wait_all_p95_s": round(float(np.percentile(list(waits.values()), 95)), 1),
        "cpu_s": {group: round(ms / 1000, 1) for group, ms in cpu},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--orders", default="fifo,fair", help="comma-separated, of fifo,fair")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="podium-rush-"))
    models = _reference()
    datasets = _datasets(workdir)
    full = os.cpu_count() or 2
    bare = bare_seconds(models, datasets, THREADS)
    bare_full = bare_seconds(models, datasets, full)
    for threads, times in ((THREADS, bare), (full, bare_full)):
        print(
            f"bare inference, 500 images, {threads} thread(s): "
            + ", ".join(f"{k} {v:.3f}s" for k, v in times.items())
        )
    reports = [
        run_order(order, workdir, models, datasets, bare, bare_full=bare_full)
        for order in args.orders.split(",")
    ]
    keys = [k for k in reports[0] if k not in ("order", "errors", "cpu_s")]
    print(f"{'':<26}" + "".join(f"{r['order']:>10}" for r in reports))
    for k in keys:
        print(f"{k:<26}" + "".join(f"{r[k]:>10}" for r in reports))
    groups = sorted(
        {g for r in reports for g in r["cpu_s"]}, key=lambda g: -reports[0]["cpu_s"].get(g, 0)
    )
    print("CPU seconds from the first upload to the drain, by process group:")
    for g in groups:
        print(f"  {g:<24}" + "".join(f"{r['cpu_s'].get(g, 0.0):>10}" for r in reports))
    if args.json:
        args.json.write_text(
            json.dumps({"bare_s": bare, "bare_full_s": bare_full, "runs": reports}, indent=2)
        )
    shutil.rmtree(workdir, ignore_errors=True)
    ok = all(not r["errors"] and r["scored"] == r["submissions"] for r in reports)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
