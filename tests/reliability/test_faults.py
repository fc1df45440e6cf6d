"""Faults, each against a private stack: a killed worker, the broker down, the database restarted,
a message delivered twice at once, a full disk while an upload is written."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from testsupport.hostile import slow_model
from testsupport.procs import PostgresServer, wait_for
from testsupport.reliability import competition, row, submit, sweep, wait_running, wait_status
from testsupport.stack import api_submit, seed

pytestmark = pytest.mark.slow


def test_worker_killed_mid_grading_is_retried_once_then_given_up(make_stack, rel_data):
    """kill -9 of the worker (and its sandbox children) while it grades: the sweeper re-queues
    the attempt and a new worker grades it exactly once; a submission whose worker is killed on
    both of its PODIUM_MAX_ATTEMPTS=2 attempts fails with worker_lost and the reason."""
    stack = make_stack(env={"PODIUM_MAX_ATTEMPTS": "2"})
    tokens = seed(stack, npz=rel_data["npz"], users=1, competitions=[competition()])
    stack.start_web(workers=1, threads=2)
    worker = stack.start_worker("w1", "cpu")

    lucky = submit(stack, tokens, rel_data["slow"])
    wait_running(stack, lucky, attempt=1)
    worker.kill9()
    assert row(stack, lucky)["status"] == "running"  # nobody knows yet: the sweeper will
    worker = stack.start_worker("w2", "cpu")
    assert sweep(stack) == {"requeued": 0, "retried": 1, "failed": 0}
    r = wait_status(stack, lucky, ("scored", "failed"))
    assert r["status"] == "scored" and r["attempts"] == 2, r
    # Each attempt's start is written when it claims; the sweeper's line records the loss.
    assert r["log"].count("attempt 1 lost") == 1 and r["log"].count("started on") == 2
    assert r["log"].index("attempt 1 started") < r["log"].index("attempt 1 lost")
    assert r["log"].index("attempt 1 lost") < r["log"].index("attempt 2 started")
    assert r["public_score"] is not None and r["result"]

    unlucky = submit(stack, tokens, rel_data["slow"])
    for attempt, name in ((1, "w3"), (2, "w4")):
        wait_running(stack, unlucky, attempt=attempt)
        worker.kill9()
        worker = stack.start_worker(name, "cpu")
        expected = {"retried": 1} if attempt == 1 else {"failed": 1}
        assert sweep(stack) == {"requeued": 0, "retried": 0, "failed": 0, **expected}
    r = row(stack, unlucky)
    assert r["status"] == "failed" and r["error_code"] == "worker_lost", r
    assert "interrupted 2 times" in r["error_message"]
    assert not r["counts_toward_quota"]  # our failure, not the student's
    assert r["public_score"] is None and r["result"] is None
    time.sleep(1)
    assert row(stack, unlucky)["status"] == "failed"  # no stray message brings it back
    assert sweep(stack) == {"requeued": 0, "retried": 0, "failed": 0}  # nothing loops
    assert row(stack, lucky)["attempts"] == 2


def test_broker_down_uploads_are_kept_and_graded_when_it_returns(make_stack, rel_data):
    """Redis (a private one) stops while students submit: uploads are accepted and saved as
    queued; once it is back, the beat-driven sweeper re-sends them and every one is graded."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server not installed")
    stack = make_stack(
        broker="redis", env={"PODIUM_REQUEUE_AFTER_S": "10", "PODIUM_SWEEP_SECONDS": "5"}
    )
    tokens = seed(stack, npz=rel_data["npz"], users=3, competitions=[competition()])
    stack.start_web(workers=1, threads=4)
    worker = stack.start_worker("w1", "cpu,gpu", beat=True)
    assert stack.redis is not None
    stack.redis.stop()

    ids, latencies = [], []
    for i in range(6):
        t0 = time.monotonic()
        ids.append(submit(stack, tokens, rel_data["good"], user=f"student{i % 3:03d}"))
        latencies.append(time.monotonic() - t0)
    assert max(latencies) < 10, latencies  # a dead broker does not hang the upload
    for sid in ids:
        r = row(stack, sid)
        assert r["status"] == "queued" and r["attempts"] == 0, r

    stack.redis.start()  # same port, empty (nothing was persisted): the messages are gone
    for sid in ids:
        r = wait_status(stack, sid, ("scored", "failed"), timeout=120)
        assert r["status"] == "scored" and r["attempts"] == 1, r
        assert r["log"].count("started on") == 1
    assert worker.alive()
    assert "Internal Server Error" not in stack.procs[0].text()


def test_database_restarted_during_grading_retries_without_half_results(
    make_stack, rel_data, tmp_path
):
    """A private PostgreSQL restarts while a worker grades: that attempt cannot write anything;
    the submission is graded again and its result is written once, whole."""
    try:
        pg = PostgresServer(tmp_path / "pg")
    except (RuntimeError, subprocess.CalledProcessError) as e:
        pytest.skip(f"no private PostgreSQL: {e}")
    pg.start()
    try:
        stack = make_stack(database=pg.url("podium"))
        tokens = seed(stack, npz=rel_data["npz"], users=1, competitions=[competition()])
        stack.start_web(workers=1, threads=2)
        worker = stack.start_worker("w1", "cpu")
        sid = submit(stack, tokens, rel_data["slow"])
        wait_running(stack, sid, attempt=1)
        pg.stop()  # fast shutdown: every connection is cut
        time.sleep(1.0)
        pg.start()
        # The task notices the lost connection and retries by itself (its own log line says so),
        # not through the sweeper. The wait is generous: on a loaded 2-core machine the slow model
        # alone takes 15 s or more per attempt.
        r = wait_status(stack, sid, ("scored", "failed"), timeout=180)
        assert r["status"] == "scored", r
        assert r["result"] and r["public_score"] is not None and r["private_score"] is not None
        assert r["log"].count("scored on") == 1
        assert r["attempts"] >= 2  # the lost attempt, then the one that wrote the result
        assert r["log"].count("started on") == r["attempts"]  # each attempt left its line
        assert worker.alive()
        assert "lost its database connection; retrying" in r["log"], r["log"]
    finally:
        pg.remove()


def test_disk_full_while_writing_an_upload(make_stack, rel_data, tmp_path):
    """The web worker's upload storage is a 256 KiB tmpfs and the model is about 1 MB: the
    student gets a clear error, no row is created, no partial file is left behind."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        stack = make_stack()
        tokens = seed(stack, npz=rel_data["npz"], users=1, competitions=[competition()])
        stack.start_web(workers=1, threads=2, env={"PODIUM_PRIVATE_ROOT": str(mnt)})
        big = slow_model(10, pad_mb=1.0)
        status, body = api_submit(stack.web_url, tokens["student000"], "digits", big)
        assert status == 503, (status, body)
        assert body["code"] == "storage_full" and "space" in body["message"], body
        assert stack.sql("SELECT COUNT(*) FROM competitions_submission")[0][0] == 0
        assert stack.sql("SELECT COUNT(*) FROM competitions_refusedupload")[0][0] == 0
        leftovers = [p for p in mnt.rglob("*") if p.is_file()]
        assert leftovers == [], leftovers
        # A small upload still fits: the failure was the disk, not a broken web worker.
        status, body = api_submit(stack.web_url, tokens["student000"], "digits", rel_data["good"])
        assert status == 201, (status, body)
    finally:
        for proc in stack.procs if "stack" in locals() else []:
            proc.stop()
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


CLAIM_RACE = """
import threading
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from competitions.models import Competition
from competitions.services.grading import submission_claim
from competitions.services.submissions import submission_create
from competitions.tasks import grade_submission
from django.contrib.auth import get_user_model

user = get_user_model().objects.get(username="student000")
comp = Competition.objects.get(slug="digits")
data = open(params["model"], "rb").read()
if params["mode"] == "threads":
    # The claim itself, raced by 8 threads (8 connections) released together.
    comp.queue = "nowhere"  # no worker listens: only the threads claim it
    comp.save()
    sub = submission_create(user=user, competition=comp, upload=SimpleUploadedFile("m.onnx", data))
    barrier, got = threading.Barrier(8), []
    def claim():
        barrier.wait()
        try:
            got.append(submission_claim(submission_id=sub.pk))
        finally:
            connection.close()
    threads = [threading.Thread(target=claim) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    result = got
    # No worker will finish the row a thread claimed: end it, or it holds the grading slot
    # (services/dispatch.py) and the upload below waits for the sweeper instead of being sent.
    type(sub).objects.filter(pk=sub.pk).update(status="failed")
else:
    # One upload, then the same message three more times at once, to two idle workers.
    comp.queue = "cpu"
    comp.save()
    sub = submission_create(user=user, competition=comp, upload=SimpleUploadedFile("m.onnx", data))
    for _ in range(3):
        grade_submission.apply_async(args=[str(sub.pk)], queue="cpu")
    result = str(sub.pk)
"""


def test_same_task_delivered_twice_at_once_gives_one_result(make_stack, rel_data, tmp_path):
    stack = make_stack()
    seed(stack, npz=rel_data["npz"], users=1, competitions=[competition()])
    model = tmp_path / "m.onnx"
    model.write_bytes(rel_data["good"])
    got = stack.django(CLAIM_RACE, model=str(model), mode="threads")
    assert sorted(got, key=str) == [1] + [None] * 7, got  # exactly one claim changed the row

    workers = [stack.start_worker(f"w{i}", "cpu", wait=False) for i in (1, 2)]
    for w in workers:
        w.wait_log("ready.")
    # A slow model keeps the worker that claims it busy for seconds (prefetch 1), so the other
    # worker takes the duplicates: both really handle one of the messages, whatever the load.
    slow = tmp_path / "slow.onnx"
    slow.write_bytes(rel_data["slow"])
    sid = stack.django(CLAIM_RACE, model=str(slow), mode="messages")
    r = wait_status(stack, sid, ("scored", "failed"))
    assert r["status"] == "scored" and r["attempts"] == 1, r
    assert r["log"].count("started on") == 1 and r["log"].count("scored on") == 1

    def outcomes() -> list[str]:
        text = "".join(w.text() for w in workers)
        return [o for o in ("'scored'", "'skipped'") for _ in range(text.count(o))]

    try:
        wait_for(lambda: len(outcomes()) == 4, 60, "all four deliveries to be handled")
    except TimeoutError:
        print(workers[0].text()[-2500:], workers[1].text()[-2500:])
        raise
    assert sorted(outcomes()) == ["'scored'"] + ["'skipped'"] * 3
    assert all(w.text().count("succeeded in") for w in workers), "both workers took a message"
