"""The sandbox children confined (grader.confine), each attempt made from inside a child.

The children answer a "probe" request only when the test hook PODIUM_TEST_PROBE is in their
environment (it is passed only from a test's): they try to read, write, connect or signal and
say what the kernel answered. Both children are tried: the inference child (onnxruntime) and the
analysis child (onnx), which parse and run untrusted files.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from grader import confine
from grader.errors import RunFailed
from grader.sandbox import ANALYSIS_CHILD, INFERENCE_CHILD, ChildProcess, SandboxPool

REPO = Path(__file__).resolve().parents[2]
ENTRIES = [INFERENCE_CHILD, ANALYSIS_CHILD]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux confinement")


@pytest.fixture(params=ENTRIES, ids=["inference", "analysis"])
def child(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ChildProcess]:
    monkeypatch.setenv("PODIUM_TEST_PROBE", "1")
    c = ChildProcess(request.param)
    c.wait_ready()
    if c.not_confined:
        c.close()
        pytest.skip(f"this kernel refuses part of the confinement: {c.not_confined}")
    yield c
    c.close()


def _probe(child: ChildProcess, **tries: list[object]) -> dict[str, str]:
    reply, _ = child.request({"op": "probe", "tries": tries}, {}, time_s=20)
    return dict(reply["probe"])


def _alive(pid: int) -> bool:
    """Running or sleeping; a zombie waiting for init to reap it has already died."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@linux_only
def test_children_cannot_read_the_workers_environment(
    child: ChildProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = os.getpid()
    got = _probe(child, read=[f"/proc/{me}/environ", f"/proc/{me}/mem", f"/proc/{me}/cmdline"])
    assert got[f"read /proc/{me}/environ"] != "ok", got
    assert got[f"read /proc/{me}/mem"] != "ok", got
    assert got[f"read /proc/{me}/cmdline"] != "ok", got
    libc = ctypes.CDLL(None)
    assert libc.prctl(3, 0, 0, 0, 0) == 0  # PR_GET_DUMPABLE: the worker is not dumpable


@linux_only
def test_children_cannot_read_datasets_uploads_the_database_or_the_project(
    child: ChildProcess, tmp_path: Path
) -> None:
    cache = tmp_path / "datasets" / "mnist-test.npz"
    upload = tmp_path / "uploads" / "other-student.onnx"
    database = tmp_path / "db.sqlite3"
    for f in (cache, upload, database):
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"labels and secrets")
        f.chmod(0o644)
    files = [
        str(cache),
        str(upload),
        str(database),
        str(REPO / "data" / "mnist"),
        str(REPO / "pyproject.toml"),
        "/etc/passwd",
        "/root/.bash_history",
    ]
    got = _probe(child, read=files, write=[str(tmp_path / "new"), "x-in-my-own-cwd"])
    allowed = {k: v for k, v in got.items() if v == "ok"}
    assert not allowed, allowed
    # ... while what it needs is still there: its own package and its process's status
    needed = _probe(child, read=[str(REPO / "grader" / "protocol.py"), "/proc/self/status"])
    assert set(needed.values()) == {"ok"}, needed


@linux_only
def test_children_have_no_network(child: ChildProcess, tmp_path: Path) -> None:
    with socket.socket() as listener, socket.socket(socket.AF_UNIX) as unix:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        unix.bind(str(tmp_path / "db.sock"))
        unix.listen(1)
        unix.settimeout(0.5)
        got = _probe(child, tcp=[["127.0.0.1", port]], unix=[str(tmp_path / "db.sock")])
        for sock in (listener, unix):
            with pytest.raises(TimeoutError):
                sock.accept()[0].close()
    assert "ok" not in got.values(), got
    # and it lives in network and user namespaces of its own, not the worker's
    for ns in ("net", "user"):
        assert os.readlink(f"/proc/{child.pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}")


@linux_only
def test_children_cannot_signal_the_worker(child: ChildProcess) -> None:
    assert _probe(child, signal=[os.getpid()])[f"signal {os.getpid()}"] != "ok"


_WORKER = """
import sys, numpy as np
from grader import grade
from grader.analysis import analysis_pool
from grader.datasets.base import Dataset
from grader.sandbox import SandboxPool
from grader.types import Limits
from testsupport.hostile import endless_loop
pool = SandboxPool(warm=True)
print(pool._spare.pid, analysis_pool()._spare.pid, flush=True)
data = Dataset("d", np.zeros((64, 28, 28, 1), np.uint8), np.zeros(64, np.int64), list("0123456789"))
weights = (np.zeros((784, 10), np.float32), np.zeros(10, np.float32))
grade(endless_loop(weights), "loop.onnx", data, limits=Limits(time_s=120), pool=pool)
"""


@linux_only
def test_children_die_with_their_worker_killed_mid_run() -> None:
    worker = subprocess.Popen(
        [sys.executable, "-c", _WORKER], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert worker.stdout is not None
    pids = [int(p) for p in worker.stdout.readline().split()]
    inference = pids[0]
    deadline = time.monotonic() + 60
    while _cpu_ticks(inference) < 100 and time.monotonic() < deadline:  # 1 s into the loop
        time.sleep(0.1)
    assert _alive(inference) and worker.poll() is None
    worker.kill()
    worker.wait()
    t0 = time.monotonic()
    while any(_alive(p) for p in pids) and time.monotonic() - t0 < 10:
        time.sleep(0.05)
    gone_after = time.monotonic() - t0
    for p in pids:
        if _alive(p):
            os.kill(p, signal.SIGKILL)
    assert gone_after < 2, f"children outlived their worker by {gone_after:.1f} s"


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


@linux_only
def test_a_child_whose_worker_is_already_gone_exits_at_once() -> None:
    code = "from grader.confine import confine; confine(parent_pid=1, reads=[]); print('ran')"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 1 and "ran" not in out.stdout


def test_a_child_started_from_a_thread_that_ended_keeps_working() -> None:
    """PR_SET_PDEATHSIG follows the thread that started a child: a pool made in a web request's
    thread must not lose its children when that thread ends."""
    made: list[SandboxPool] = []

    def request_thread() -> None:
        pool = SandboxPool(warm=False)
        started = pool.acquire()
        started.wait_ready()  # confined, its death signal armed, while this thread lives
        pool.release(started, clean=True)
        made.append(pool)

    t = threading.Thread(target=request_thread)
    t.start()
    t.join()
    pool = made[0]
    try:
        child = pool.acquire()
        child.wait_ready()
        time.sleep(0.3)  # the kernel's signal, were it sent, has arrived
        assert child.proc.poll() is None
        with pytest.raises(RunFailed, match="unknown op"):  # an answer: it is alive
            child.request({"op": "nothing"}, {}, time_s=10)
        pool.release(child, clean=False)
    finally:
        pool.close()


def test_gaps_are_named_where_the_system_has_no_such_confinement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PODIUM_TEST_NO_OS_LIMITS", "1")
    assert confine.confine(parent_pid=os.getppid(), reads=[]) == [
        "process isolation (namespaces, Landlock, seccomp): not on Linux"
    ]


def test_cuda_sessions_get_the_submissions_memory_as_gpu_mem_limit() -> None:
    from grader.providers import session_providers

    cuda = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert session_providers(cuda, 2048) == [
        (
            "CUDAExecutionProvider",
            {"gpu_mem_limit": str(2048 * 2**20), "arena_extend_strategy": "kSameAsRequested"},
        ),
        "CPUExecutionProvider",
    ]
    assert session_providers(["CPUExecutionProvider"], 2048) == ["CPUExecutionProvider"]


def test_the_inference_child_passes_the_gpu_limit_to_its_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the child hands onnxruntime on a CUDA machine (none here: the session is faked)."""
    import io

    import onnxruntime

    from grader import sandbox_child

    seen: dict[str, object] = {}

    class FakeSession:
        def __init__(self, model: bytes, so: object, providers: list[object]) -> None:
            seen["providers"] = providers

        def get_providers(self) -> list[str]:
            return ["CUDAExecutionProvider"]

    monkeypatch.setattr(onnxruntime, "InferenceSession", FakeSession)
    monkeypatch.setattr(
        sandbox_child,
        "choose_providers",
        lambda use_cuda: ["CUDAExecutionProvider", "CPUExecutionProvider"],
    )
    child = sandbox_child.Child(io.BytesIO(), [])
    reply = child.load({"memory_mb": 1536, "threads": 1}, np.zeros(1, np.uint8).tobytes())
    assert seen["providers"] == [
        (
            "CUDAExecutionProvider",
            {"gpu_mem_limit": str(1536 << 20), "arena_extend_strategy": "kSameAsRequested"},
        ),
        "CPUExecutionProvider",
    ]
    assert reply["provider"] == "CUDAExecutionProvider"


def test_children_read_site_packages_but_not_the_checkout_that_holds_the_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site = "/venv/lib/python3.12/site-packages"
    monkeypatch.setattr(sys, "path", ["/repo", site, "", "relative"])
    from_checkout = confine.readable_paths("/repo/grader")
    assert "/repo" not in from_checkout and site in from_checkout
    assert "/repo/grader" in from_checkout
    installed = confine.readable_paths(f"{site}/grader")  # the student client, pip-installed
    assert site in installed and "/repo" in installed


DENIED, ALLOWED = False, True
# What still holds where the kernel refuses a step (simulated by the test hook), as root:
# refused steps -> (environ, a data file, TCP, a Unix socket, a signal to the worker), the gap named
DEGRADED = {
    "userns": ((DENIED, DENIED, DENIED, DENIED, DENIED), "user namespace"),
    "landlock": ((DENIED, ALLOWED, DENIED, DENIED, ALLOWED), "file restriction (Landlock)"),
    "seccomp": ((DENIED, DENIED, DENIED, ALLOWED, DENIED), "socket filter (seccomp)"),
    "userns,landlock,seccomp": ((DENIED, ALLOWED, DENIED, ALLOWED, ALLOWED), "user namespace"),
}


@linux_only
@pytest.mark.skipif(os.geteuid() != 0, reason="the fallbacks shown are root's")
@pytest.mark.parametrize("refused", list(DEGRADED))
def test_what_still_holds_where_the_kernel_refuses_a_step(
    refused: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PODIUM_TEST_PROBE", "1")
    monkeypatch.setenv("PODIUM_TEST_CONFINE_REFUSE", refused)
    data = tmp_path / "db.sqlite3"
    data.write_text("secrets")
    with socket.socket() as tcp, socket.socket(socket.AF_UNIX) as unix:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(8)
        unix.bind(str(tmp_path / "s.sock"))
        unix.listen(8)
        c = ChildProcess()
        try:
            c.wait_ready()
            beyond = [n for n in c.not_confined if "test hook" not in n]
            if beyond:
                pytest.skip(f"this kernel refuses part of the confinement: {beyond}")
            tries = {
                "read": [f"/proc/{os.getpid()}/environ", str(data)],
                "tcp": [["127.0.0.1", tcp.getsockname()[1]]],
                "unix": [str(tmp_path / "s.sock")],
                "signal": [os.getpid()],
            }
            got = list(_probe(c, **tries).values())
            model = (REPO / "reference" / "models" / "mnist_logreg.onnx").read_bytes()
            loaded, _ = c.request(
                {"op": "load", "memory_mb": 0, "threads": 1, "use_cuda": False},
                {"model": np.frombuffer(model, np.uint8)},
                time_s=30,
            )
        finally:
            c.close()
    expected, gap = DEGRADED[refused]
    assert [g == "ok" for g in got] == list(expected), got
    assert any(note.startswith(gap) for note in loaded["limits_not_applied"]), loaded
