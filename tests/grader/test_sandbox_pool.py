"""The pool of sandbox children: concurrent users share `size` children instead of starting one
each (a child costs 0.12-0.37 s of CPU to start), a request beyond them waits for one, and a
child is kept only while it is clean and under MAX_USES."""

from __future__ import annotations

import threading
import time
from typing import Any

from grader.sandbox import SandboxPool


class _Proc:
    def __init__(self) -> None:
        self.code: int | None = None

    def poll(self) -> int | None:
        return self.code


class _Child:
    """What the pool reads of a child, without a process."""

    def __init__(self) -> None:
        self.proc = _Proc()
        self.uses = 0
        self.reusable = True
        self.closed = False

    def close(self) -> None:
        self.closed = True
        self.proc.code = 0


class _CountingPool(SandboxPool):
    def __init__(self, **kwargs: Any) -> None:
        self.started: list[_Child] = []
        super().__init__(warm=False, **kwargs)

    def _new(self) -> Any:
        self.started.append(_Child())
        return self.started[-1]


def _use_concurrently(pool: SandboxPool, *, threads: int, each: int, hold_s: float) -> int:
    """Each thread acquires and releases `each` times; returns the most out at once."""
    out, most, lock = [0], [0], threading.Lock()

    def user() -> None:
        for _ in range(each):
            child = pool.acquire()
            with lock:
                out[0] += 1
                most[0] = max(most[0], out[0])
            time.sleep(hold_s)
            with lock:
                out[0] -= 1
            pool.release(child, clean=True)

    workers = [threading.Thread(target=user) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return most[0]


def test_eight_threads_share_the_pools_two_children():
    pool = _CountingPool(size=2)
    most = _use_concurrently(pool, threads=8, each=5, hold_s=0.01)
    assert most == 2  # the others waited their turn
    assert len(pool.started) == 2  # 40 checks, two children started
    assert len(pool._idle) == 2 and not any(c.closed for c in pool.started)


def test_without_a_size_each_concurrent_user_gets_a_child_and_one_is_kept():
    pool = _CountingPool()
    _use_concurrently(pool, threads=4, each=1, hold_s=0.05)
    assert len(pool.started) == 4
    assert len(pool._idle) == 1 and sum(c.closed for c in pool.started) == 3


def test_a_request_that_waited_too_long_gets_a_child_of_its_own():
    pool = _CountingPool(size=1)
    pool.WAIT_S = 0.2
    held = pool.acquire()
    started = time.monotonic()
    extra = pool.acquire()  # nobody gives the first one back
    assert 0.15 < time.monotonic() - started < 5
    assert extra is not held and len(pool.started) == 2
    pool.release(held, clean=True)
    pool.release(extra, clean=True)
    assert pool._idle == [held] and extra.closed  # one kept, as many as the size


def test_a_child_is_dropped_after_a_failure_and_after_max_uses():
    pool = _CountingPool(size=1)
    child = pool.acquire()
    pool.release(child, clean=False)
    assert child.closed and pool._idle == []
    worn = pool.acquire()
    worn.uses = SandboxPool.MAX_USES - 1
    pool.release(worn, clean=True)
    assert worn.closed and pool._idle == []


def test_a_child_that_fails_to_start_gives_its_turn_back():
    class _Failing(_CountingPool):
        fail = True

        def _new(self) -> Any:
            if self.fail:
                self.fail = False
                raise OSError("no more processes")
            return super()._new()

    pool = _Failing(size=1)
    pool.WAIT_S = 5.0
    try:
        pool.acquire()
    except OSError:
        pass
    started = time.monotonic()
    child = pool.acquire()  # the failed start holds no turn: no wait
    assert time.monotonic() - started < 1.0 and child in pool.started
