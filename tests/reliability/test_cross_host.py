"""A worker on another host (a network namespace with its own address) is cut off from the broker
and the database while it grades: nothing is graded twice, the submission is retried on a worker
that can still reach them and scored, and the cut-off worker's late result is thrown away."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from testsupport.netns import FarHost, NoNamespace
from testsupport.procs import PostgresServer, wait_for
from testsupport.reliability import competition, row, submit, sweep, wait_running, wait_status
from testsupport.stack import seed

pytestmark = pytest.mark.slow


@pytest.fixture
def far_host():
    try:
        host = FarHost.make()
    except NoNamespace as e:
        print(f"cross-host test skipped: {e}")
        pytest.skip(f"cannot make a network namespace here: {e}")
    yield host
    host.remove()


@pytest.fixture
def far_pg(far_host: FarHost, tmp_path):
    try:
        pg = PostgresServer(tmp_path / "pg", also_listen=far_host.here, trust_from=far_host.there)
    except (RuntimeError, subprocess.CalledProcessError) as e:
        pytest.skip(f"no private PostgreSQL: {e}")
    pg.start()
    yield pg
    pg.remove()


def test_worker_cut_off_mid_grading_is_replaced_and_its_late_result_discarded(
    far_host: FarHost, far_pg: PostgresServer, make_stack, rel_data
):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server not installed")
    stack = make_stack(database=far_pg.url("podium"), broker="redis", redis_also_bind=far_host.here)
    tokens = seed(stack, npz=rel_data["npz"], users=1, competitions=[competition()])
    stack.start_web(workers=1, threads=2)
    assert stack.redis is not None
    far_env = {
        "DATABASE_URL": stack.database_url.replace("127.0.0.1", far_host.here),
        "CELERY_BROKER_URL": stack.redis.url.replace("127.0.0.1", far_host.here),
    }
    far = stack.start_worker("far", "cpu", env=far_env, wrap=far_host.wrap)
    sid = submit(stack, tokens, rel_data["slow"])
    wait_running(stack, sid, attempt=1)  # on the far worker: the only one

    far_host.cut()
    near = stack.start_worker("near", "cpu")
    assert sweep(stack) == {"requeued": 0, "retried": 1, "failed": 0}
    r = wait_status(stack, sid, ("scored", "failed"), timeout=180)
    assert r["status"] == "scored" and r["attempts"] == 2, r
    scored = dict(r)

    far_host.reconnect()
    # The far worker's writes reach the database again: conditional on attempt 1, they change
    # nothing. Its task ends as "stale" (its result was not written) or "failed" (its deadline
    # passed while it waited), and the row is the near worker's.
    wait_for(lambda: "succeeded in" in far.text() or not far.alive(), 240, "the far worker's task")
    time.sleep(1.0)
    assert far.alive(), far.text()[-2000:]
    ended = [line for line in far.text().splitlines() if "succeeded in" in line]
    print("cut-off worker:", ended[-1] if ended else "no task line")
    assert "'stale'" in far.text() or "'failed'" in far.text(), far.text()[-2000:]
    r = row(stack, sid)
    assert r == scored, "the late result changed the row"
    assert r["log"].count("scored on") == 1 and r["log"].count("started on") == 2
    assert r["log"].count("attempt 1 lost") == 1
    assert "succeeded in" in near.text() and "'scored'" in near.text()
    assert sweep(stack) == {"requeued": 0, "retried": 0, "failed": 0}  # nothing comes back
