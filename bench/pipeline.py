"""`make bench-pipeline`: submit -> scored through the REST API with a real Celery worker, Redis
and PostgreSQL, for the MNIST CNN and the CIFAR-10 CNN (CIFAR-10 on the JPEG copy).

Goal: p50 <= 1.2 x the bare onnxruntime inference time of the same model over the same images,
measured in the same run, + 100 ms. Also: the time broken down (upload, queue wait, claim, dataset
load, session creation, inference, scoring, write), one worker's sustained throughput, and the
peak memory of the worker and of its sandbox child.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
PORT = 8765


def _env(args: argparse.Namespace, var: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        PODIUM_VAR_DIR=var,
        DATABASE_URL=args.database,
        CELERY_BROKER_URL=args.broker,
        PYTHONUNBUFFERED="1",
    )
    return env


def _recreate_db(url: str) -> None:
    if not url.startswith("postgres"):
        return
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(
        f"{base}/postgres".replace("postgres://", "postgresql://"), autocommit=True
    ) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}"')
        c.execute(f'CREATE DATABASE "{name}"')


def _setup(models: list[tuple[str, str, bytes]]) -> str:
    """Migrate, import the bundled test sets, a user with a token, one competition per model."""
    import django

    django.setup()
    import datetime as dt

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from competitions.models import Competition, Course
    from competitions.services.datasets import dataset_import
    from competitions.services.tokens import token_create

    call_command("migrate", verbosity=0)
    data = {
        "mnist": REPO / "data" / "mnist",
        "cifar10": REPO / "data" / "cifar10" / "cifar10-jpeg-test.zip",
    }
    course = Course.objects.create(slug="bench", name="Bench", enrollment_code="BENCH-E2E")
    user = get_user_model().objects.create(username="bench-student")
    for name, dsname, _ in models:
        ds = dataset_import(path=data[dsname], name=f"{dsname} test")
        Competition.objects.create(
            course=course,
            slug=name.replace("_", "-"),
            title=name,
            dataset=ds,
            visibility="public",
            closes_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
            daily_limit=10_000,
            total_limit=10_000,
            allowed_formats=["onnx", "npz"],
        )
    return token_create(user=user, name="bench")[1]


def bare_inference(model: bytes, images: np.ndarray, layout: str, pre: tuple[Any, Any]) -> float:
    """Seconds for onnxruntime alone over the images (2 threads, batches of 256, preprocessed)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = 2, 1
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    mean, std = np.asarray(pre[0], np.float32), np.asarray(pre[1], np.float32)
    xs = []
    for i in range(0, len(images), 256):
        x = (images[i : i + 256].astype(np.float32) / np.float32(255) - mean) / std
        xs.append(np.ascontiguousarray(x.transpose(0, 3, 1, 2) if layout == "nchw" else x))
    t0 = time.perf_counter()
    for x in xs:
        sess.run(None, {name: x})
    return time.perf_counter() - t0


def _submit_and_wait(s: Any, slug: str, name: str, model: bytes) -> tuple[float, float, str]:
    """Upload, wait, and return (submit -> scored seconds, upload seconds, id).

    Polling itself costs CPU on a small machine, so the client polls as the site and the CLI do,
    once a second, and the latency is
    taken from the server's own clock: upload time + (finished_at - created_at); finished_at is
    stamped by the result's UPDATE, so the few ms of that write and its commit are not in it."""
    from competitions.models import Submission

    t0 = time.perf_counter()
    r = s.post(
        f"http://127.0.0.1:{PORT}/api/competitions/{slug}/submissions",
        files={"file": (name + ".onnx", model)},
        timeout=60,
    )
    upload = time.perf_counter() - t0
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    while True:
        st = s.get(f"http://127.0.0.1:{PORT}/api/submissions/{sid}", timeout=30).json()
        if st["status"] in ("scored", "failed"):
            assert st["status"] == "scored", st
            sub = Submission.objects.get(pk=sid)
            assert sub.finished_at is not None  # scored
            return upload + (sub.finished_at - sub.created_at).total_seconds(), upload, sid
        time.sleep(1.0)  # as the submission page (htmx, every 1s) and the CLI (--poll 1.0) do


def _peak_kib(pattern: str) -> dict[int, int]:
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if pattern in cmd:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        out[int(pid)] = int(line.split()[1])
        except OSError:
            continue
    return out


def _breakdown(sid: str, total_s: float, upload_s: float) -> dict[str, float]:
    from competitions.models import Submission

    sub = Submission.objects.get(pk=sid)
    t = (sub.result or {}).get("timings", {})
    pipe = (sub.result or {}).get("pipeline_ms", {})
    ms = 1000.0
    assert sub.started_at is not None and sub.finished_at is not None  # scored
    queue = (sub.started_at - (sub.enqueued_at or sub.created_at)).total_seconds() * ms
    worker = (sub.finished_at - sub.started_at).total_seconds() * ms
    engine = t.get("total_ms", 0.0)
    return {
        "total": total_s * ms,
        "upload": upload_s * ms,
        "queue wait": max(queue, 0.0),
        "claim": pipe.get("claim_ms", float("nan")),
        "dataset load": pipe.get("dataset_ms", float("nan")),
        "checks": t.get("check_ms", 0.0),
        "session creation": t.get("session_ms", 0.0),
        "diagnosis": t.get("diagnosis_ms", 0.0),
        "inference": t.get("inference_ms", 0.0),
        "scoring": t.get("scoring_ms", 0.0) + pipe.get("split_scores_ms", 0.0),
        "worker other (row and file reads)": worker
        - engine
        - pipe.get("claim_ms", 0.0)
        - pipe.get("dataset_ms", 0.0)
        - pipe.get("split_scores_ms", 0.0),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--database",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/podium_bench_e2e"
        ),
    )
    ap.add_argument(
        "--broker", default=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/11")
    )
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument(
        "--throughput", type=int, default=20, help="submissions queued at once per model"
    )
    args = ap.parse_args()
    from grader.datasets import load_dataset
    from grader.preprocess import PRESETS
    from testsupport.reference_models import bench_models, onnx_meta

    picks = [
        m for m in bench_models() if m[0] in ("mnist_cnn_deep", "cifar10_cnn_bn", "cifar10_cnn")
    ]
    var = tempfile.mkdtemp(prefix="podium-bench-e2e-")
    env = _env(args, var)
    os.environ.update(env)
    _recreate_db(args.database)
    token = _setup([(n, d, m) for n, d, m, _ in picks])
    logs = open(Path(var) / "procs.log", "w")  # noqa: SIM115
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                "cpu,gpu",
                "-c",
                "1",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "WARNING",
            ],
            cwd=REPO,
            env=env,
            stdout=logs,
            stderr=logs,
        ),
        subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{PORT}", "-w", "2"],
            cwd=REPO,
            env=env,
            stdout=logs,
            stderr=logs,
        ),
    ]
    import requests

    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    try:
        for _ in range(100):
            try:
                if s.get(f"http://127.0.0.1:{PORT}/api/competitions", timeout=10).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        print(
            f"database {args.database.split('://')[0]}, broker {args.broker.split('://')[0]}, 1 worker process, "
            f"2 onnxruntime threads; {os.cpu_count()} cores; CIFAR-10 on the JPEG copy"
        )
        for name, dsname, model, origin in picks:
            slug = name.replace("_", "-")
            _submit_and_wait(s, slug, name, model)  # warm-up: dataset cache, sandbox child
            meta = onnx_meta(model)
            ds = load_dataset(
                REPO / ("data/mnist" if dsname == "mnist" else "data/cifar10/cifar10-jpeg-test.zip")
            )
            pre = PRESETS[meta.get("podium.preprocess", "unit")]
            layout = meta.get("podium.layout", "nchw")
            totals, parts, bares = [], [], []
            for _ in range(args.runs):
                bares.append(bare_inference(model, ds.images, layout, pre))
                total, upload, sid = _submit_and_wait(s, slug, name, model)
                totals.append(total)
                parts.append(_breakdown(sid, total, upload))
            bare = statistics.median(bares)
            p50 = statistics.median(totals)
            p95 = float(np.percentile(totals, 95))
            goal = 1.2 * bare + 0.1
            print(f"\n{name} ({origin}), {len(ds):,} images, {args.runs} runs")
            print(
                f"  bare onnxruntime inference {bare * 1000:.0f} ms; submit->scored p50 {p50 * 1000:.0f} ms, "
                f"p95 {p95 * 1000:.0f} ms; goal p50 <= {goal * 1000:.0f} ms: "
                f"{'met' if p50 <= goal else 'NOT met'} (p50 / bare = {p50 / bare:.2f})"
            )
            print(
                "  median breakdown (ms): "
                + ", ".join(f"{k} {statistics.median(p[k] for p in parts):.1f}" for k in parts[0])
            )
            t0 = time.perf_counter()
            ids = []
            for _ in range(args.throughput):
                r = s.post(
                    f"http://127.0.0.1:{PORT}/api/competitions/{slug}/submissions",
                    files={"file": (name + ".onnx", model)},
                    timeout=60,
                )
                ids.append(r.json()["id"])
            for sid in ids:
                while s.get(f"http://127.0.0.1:{PORT}/api/submissions/{sid}", timeout=30).json()[
                    "status"
                ] not in ("scored", "failed"):
                    time.sleep(0.05)
            drain = time.perf_counter() - t0
            print(
                f"  throughput, one worker: {args.throughput} queued at once drained in {drain:.1f} s = "
                f"{args.throughput / drain * 60:.1f} submissions/minute"
            )
            worker = max(_peak_kib("celery").values(), default=0)
            child = max(_peak_kib("grader.sandbox_child").values(), default=0)
            print(
                f"  peak memory (VmHWM): worker {worker / 1024:.0f} MiB, sandbox child {child / 1024:.0f} MiB"
            )
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


if __name__ == "__main__":
    main()
