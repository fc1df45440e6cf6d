"""Running models in a sandboxed child process, with a warm spare to keep the fixed cost low.

A child that graded a submission cleanly is reused for the next one, with a fresh session and the
memory limit set anew, so the fixed cost per submission is a session creation rather than a Python
and onnxruntime start-up (0.13-0.16 s). After any failure, time-out or crash, or 20 uses, the child
is replaced by a spare that has already imported onnxruntime.
The child gets a clean environment (no dataset paths, no secrets) and an empty working directory,
and confines itself before anything else (grader.confine: it dies with this process, has no
network, no capability outside its own namespaces, and reads only the Python install).
Limits: RLIMIT_AS set by the child once onnxruntime is loaded; wall time enforced twice, by
RunOptions.terminate inside the child and by a kill from here after a grace period.
"""

from __future__ import annotations

import os
import queue
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from grader import confine, protocol
from grader.errors import GraderError, Rejected, RunFailed
from grader.types import Limits

GRACE_S = 3.0
START_TIMEOUT_S = 60.0
_SAFE_ENV = (
    "PATH",
    "LANG",
    "LC_ALL",
    "HOME",
    "CUDA_VISIBLE_DEVICES",
    "LD_LIBRARY_PATH",
    "SYSTEMROOT",  # Windows: Python cannot start without it
    "TEMP",
    "TMP",
    "PODIUM_TEST_CRASH",
    "PODIUM_TEST_NO_OS_LIMITS",
    "PODIUM_TEST_PROBE",
    "PODIUM_TEST_CONFINE_REFUSE",
)
# Test hook: read the child's replies with a thread, as where select() cannot wait on pipes.
_NO_SELECT_HOOK = "PODIUM_TEST_NO_SELECT"


def _select_on_pipes() -> bool:
    """select() waits on pipes on POSIX systems only (on Windows it takes sockets alone)."""
    return os.name == "posix" and not os.environ.get(_NO_SELECT_HOOK)


_ROOT = str(Path(__file__).resolve().parent.parent)
INFERENCE_CHILD = "grader.sandbox_child"  # onnxruntime, never onnx
ANALYSIS_CHILD = "grader.analysis_child"  # onnx, never onnxruntime


def _child_code(entry: str) -> str:
    """Confinement first (grader.confine), while the child still has a single thread: importing
    onnxruntime starts two more. The paths it may read are worked out in the child itself,
    from its isolated interpreter's sys.path (`-I`), not from this process's."""
    grader_dir = str(Path(_ROOT) / "grader")
    return (
        f"import sys; sys.path.insert(0, {_ROOT!r}); "
        "from grader.confine import confine, readable_paths; "
        f"gaps = confine(parent_pid={os.getpid()}, reads=readable_paths({grader_dir!r})); "
        f"from {entry} import main; main(gaps)"
    )


_spawn_lock = threading.Lock()
_spawner: tuple[int, ThreadPoolExecutor] | None = None


def _popen(args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start a child from the main thread or from one thread that lives as long as the process:
    the child's PR_SET_PDEATHSIG fires when the *thread* that started it ends (prctl(2)), so a
    child started from a web request's thread would be killed when that thread finished."""
    if threading.current_thread() is threading.main_thread():
        return subprocess.Popen(args, **kwargs)
    global _spawner
    with _spawn_lock:
        if _spawner is None or _spawner[0] != os.getpid():  # none yet, or forked since
            _spawner = (os.getpid(), ThreadPoolExecutor(1, thread_name_prefix="podium-spawn"))
        executor = _spawner[1]
    started: subprocess.Popen[bytes] = executor.submit(
        lambda: subprocess.Popen(args, **kwargs)
    ).result()
    return started


class ChildProcess:
    """One sandbox child. Use `request` for each step, then `close`.

    `entry`: the child's module, the inference child or the analysis child; `crashed`: what a
    crash broke, for its message."""

    def __init__(self, entry: str = INFERENCE_CHILD, crashed: str = "onnxruntime") -> None:
        self.entry, self.crashed = entry, crashed
        env = {k: os.environ[k] for k in _SAFE_ENV if k in os.environ}
        env["PYTHONPATH"] = _ROOT  # only the grader package's location
        env["OMP_NUM_THREADS"] = "1"
        # onnxruntime 1.31 starts telemetry (a SQLite file under $HOME, uploads) unless told not to.
        env["ORT_DISABLE_TELEMETRY"] = "1"
        self._dir = tempfile.TemporaryDirectory(prefix="podium-sandbox-")
        confine.protect_parent()
        self.proc = _popen(
            [sys.executable, "-I", "-c", _child_code(entry)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self._dir.name,
            env=env,
            start_new_session=True,
        )
        # Replies are read from the unbuffered pipe: a buffered reader could take the next frame
        # into its buffer with this one (a progress report, then the reply), and select() on the
        # pipe would then wait for data already read, until the deadline.
        self._stdout: Any = getattr(self.proc.stdout, "raw", self.proc.stdout)
        self.stderr_lines: list[str] = []
        self._stderr_thread = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_thread.start()
        self.ready = False
        self.not_confined: list[str] = []  # what grader.confine could not apply in this child
        self.uses = 0
        self.reusable = True  # false once anything went wrong in it
        self.memory_mb = 0  # the memory limit of the model loaded last (its failures name it)
        self.images_sent: set[str] = set()  # image arrays this child keeps (see sandbox_child)
        # Where select() cannot wait on a pipe, a thread reads whole replies into a queue and
        # the wall-time limit is a timeout on the queue instead.
        self._replies: queue.Queue[Any] | None = None
        if not _select_on_pipes():
            self._replies = queue.Queue()
            threading.Thread(target=self._read_replies, daemon=True).start()

    def _read_replies(self) -> None:
        assert self.proc.stdout is not None and self._replies is not None
        while True:
            try:
                self._replies.put(protocol.recv(self._stdout))
            except (EOFError, OSError, protocol.ProtocolError, ValueError) as e:
                self._replies.put(e)
                return

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            if len(self.stderr_lines) < 200:
                self.stderr_lines.append(raw.decode(errors="replace").rstrip())

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _wait_readable(self, deadline: float) -> None:
        assert self.proc.stdout is not None
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
            self.kill()
            raise RunFailed("time_limit", "")

    def _receive_queued(self, deadline: float) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        assert self._replies is not None
        try:
            item = self._replies.get(timeout=max(deadline - time.monotonic(), 0.0))
        except queue.Empty:
            self.kill()
            raise RunFailed("time_limit", "") from None
        if isinstance(item, BaseException):
            raise self._death() from item
        return item

    def receive(self, deadline: float) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        assert self.proc.stdout is not None
        if self._replies is not None:
            return self._receive_queued(deadline)
        self._wait_readable(deadline)
        try:
            return protocol.recv(self._stdout)
        except (EOFError, protocol.ProtocolError, ValueError) as e:
            raise self._death() from e

    def wait_ready(self) -> None:
        if not self.ready:
            try:
                header, _ = self.receive(time.monotonic() + START_TIMEOUT_S)
            except RunFailed as e:
                raise RunFailed("sandbox_start", "the grading sandbox did not start") from e
            self.ready = bool(header.get("ready"))
            self.not_confined = [str(x) for x in header.get("not_confined", [])]

    def request(
        self,
        header: dict[str, Any],
        arrays: dict[str, np.ndarray],
        *,
        time_s: float,
        progress: Callable[[float], None] | None = None,
        limit_s: float | None = None,
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Send one request and wait for its reply, enforcing the wall-time limit: `time_s` is
        what this step may take, `limit_s` the whole submission's limit that messages name."""
        limit_s = time_s if limit_s is None else limit_s
        if header.get("op") == "load":
            self.memory_mb = int(header.get("memory_mb") or 0)
        self.send(header, arrays)
        deadline = time.monotonic() + time_s + GRACE_S
        while True:
            try:
                reply, outs = self.receive(deadline)
            except RunFailed as e:
                if e.code == "time_limit":
                    raise RunFailed.time_limit(limit_s) from e
                raise
            if "progress" in reply:
                if progress:
                    progress(float(reply["progress"]))
                continue
            if not reply.get("ok"):
                self.reusable = False
                if reply.get("code") in ("memory_limit", "time_limit"):
                    self.kill()
                raise _failure(reply, limit_s, self.memory_mb)
            return reply, outs

    def send(self, header: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> None:
        self.wait_ready()
        assert self.proc.stdin is not None
        try:
            protocol.send(self.proc.stdin, header, arrays)  # type: ignore[arg-type]
        except (BrokenPipeError, OSError) as e:
            raise self._death() from e

    def run_images(
        self, key: str, images: np.ndarray
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The header fields and arrays that give the child these images: the array the first
        time, then only its key (the child keeps the last few it was sent)."""
        if key in self.images_sent:
            return {"images_key": key}, {}
        if len(self.images_sent) >= 2:  # the child keeps as many (Child.KEEP_IMAGES)
            self.images_sent.clear()  # resend rather than guess which one it dropped
            key = ""
        else:
            self.images_sent.add(key)
        return {"images_key": key}, {"images": images}

    def _death(self) -> RunFailed:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.wait()
        self._stderr_thread.join(timeout=1)
        if code < 0:
            name = signal.Signals(-code).name
            if -code == getattr(signal, "SIGKILL", 9):
                return RunFailed(
                    "crashed", f"the model's process was killed ({name}); out of memory?"
                )
            return RunFailed("crashed", f"the model crashed {self.crashed} ({name})")
        tail = " | ".join(self.stderr_lines[-3:])
        return RunFailed("crashed", f"the model's process exited with status {code}: {tail}"[:500])

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                if hasattr(os, "killpg"):  # the child's whole session (it may have threads)
                    os.killpg(self.proc.pid, signal.SIGKILL)
                else:
                    self.proc.kill()
            except ProcessLookupError:
                pass
        self.proc.wait()

    def close(self) -> None:
        """Kill at once: the child holds nothing worth a graceful exit, and Python's teardown of
        onnxruntime costs tens of milliseconds on every submission."""
        self.kill()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f:
                f.close()
        self._dir.cleanup()


_ASKED = re.compile(r"(?:buffer of size|size)\s+(\d+)")


def memory_failure(message: str, memory_mb: int) -> RunFailed:
    """The one wording of the memory limit: the limit, and what the model asked for when
    onnxruntime says ("Failed to allocate memory for requested buffer of size N")."""
    limit = f"the {memory_mb:,} MB limit" if memory_mb else "the limit"
    asked = _ASKED.search(message)
    what = f" (it asked for {int(asked.group(1)) / 2**20:,.0f} MB at once)" if asked else ""
    return RunFailed("memory_limit", f"the model needed more memory than {limit} allows{what}")


def _failure(reply: dict[str, Any], time_s: float, memory_mb: int = 0) -> GraderError:
    code, message = reply.get("code", "runtime_error"), str(reply.get("message", ""))
    if code == "bad_output":
        return Rejected("bad_output", message[:600])
    if code == "memory_limit":
        return memory_failure(message, memory_mb)
    if code == "time_limit":
        return RunFailed.time_limit(time_s)
    return RunFailed("runtime_error", "ONNX Runtime could not run the model: " + message[:600])


class SandboxPool:
    """Hands out sandbox children.

    A child that graded a submission cleanly is kept and reused for the next one (a fresh
    onnxruntime session each time, the memory limit set anew): that keeps the fixed cost per
    submission to a session creation. It is replaced after MAX_USES submissions, and at once
    after any failure, time-out or crash. With `warm`, a spare child that has already imported
    its libraries waits for the moment one must be replaced.

    With `size`, at most that many children are handed out at once and as many are kept idle:
    a request beyond them waits (up to WAIT_S, then gets a child of its own) for one to come
    back. Starting a child costs 0.12 s of CPU (the inference child) to 0.25-0.37 s (the
    analysis child, which imports onnx), measured here; a web process whose threads checked
    uploads at once started one per upload beyond the first, and in the deadline rush
    (bench/rush.py) that was a large share of the web's CPU.
    """

    # Measured here over 60 gradings in one child: its memory (VmSize, VmRSS) levels off
    # after about 20, so reuse is not limited by growth; 100 bounds what an unseen leak costs.
    MAX_USES = 100
    WAIT_S = 60.0

    def __init__(
        self,
        *,
        warm: bool = True,
        entry: str = INFERENCE_CHILD,
        crashed: str = "onnxruntime",
        size: int | None = None,
    ) -> None:
        self.warm = warm
        self.entry, self.crashed = entry, crashed
        self.size = size
        self._idle: list[ChildProcess] = []
        self._spare: ChildProcess | None = None
        self._out = 0  # handed out and not yet given back
        self._cond = threading.Condition()
        if warm:
            self._spare = self._new()

    def _new(self) -> ChildProcess:
        return ChildProcess(self.entry, self.crashed)

    def _wait_turn(self) -> None:
        """Under the lock: until fewer than `size` children are out (at most WAIT_S)."""
        deadline = time.monotonic() + self.WAIT_S
        while self.size is not None and self._out >= self.size and not self._idle:
            left = deadline - time.monotonic()
            if left <= 0:
                return  # then one more child rather than a failed upload
            self._cond.wait(left)

    def acquire(self) -> ChildProcess:
        with self._cond:
            self._wait_turn()
            self._out += 1
        try:
            return self._take()
        except BaseException:  # no child was handed out (a failed start): the turn goes back
            with self._cond:
                self._out -= 1
                self._cond.notify()
            raise

    def _take(self) -> ChildProcess:
        with self._cond:
            while self._idle:
                idle = self._idle.pop()
                if idle.proc.poll() is None:
                    return idle
                idle.close()
            child, self._spare = self._spare, (self._new() if self.warm else None)
        if child is None or child.proc.poll() is not None:
            child = self._new()
        return child

    def release(self, child: ChildProcess, *, clean: bool) -> None:
        """Give a child back: kept for the next submission when all went well, else killed."""
        child.uses += 1
        keep = clean and child.reusable and child.uses < self.MAX_USES and child.proc.poll() is None
        with self._cond:
            self._out -= 1
            self._cond.notify()
            if keep and len(self._idle) < (self.size or 1):
                self._idle.append(child)
                return
        child.close()

    def close(self) -> None:
        with self._cond:
            for c in [*self._idle, self._spare]:
                if c:
                    c.close()
            self._idle, self._spare = [], None


_default: SandboxPool | None = None


def default_pool() -> SandboxPool:
    global _default
    if _default is None:
        _default = SandboxPool(warm=True)
    return _default


def run_limits_header(limits: Limits) -> dict[str, Any]:
    return {"memory_mb": limits.memory_mb, "threads": limits.threads, "use_cuda": limits.use_cuda}
