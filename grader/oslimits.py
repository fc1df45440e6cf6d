"""The OS limits both sandbox children apply to themselves, and the test hooks they honour.

Imports nothing heavy: the inference child (onnxruntime, never onnx) and the analysis child (onnx,
never onnxruntime) both use it.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any

_CRASH_HOOK = "PODIUM_TEST_CRASH"  # test hook: SIGSEGV itself at the named step
# Test hook: behave as on a system without these OS limits (macOS, Windows), on Linux.
_NO_LIMITS_HOOK = "PODIUM_TEST_NO_OS_LIMITS"


def _address_space_limit() -> Any:
    """The `resource` module where RLIMIT_AS and /proc exist (Linux), else None: macOS accepts
    RLIMIT_AS without enforcing it, Windows has no `resource` at all."""
    if os.environ.get(_NO_LIMITS_HOOK) or not sys.platform.startswith("linux"):
        return None
    try:
        import resource
    except ImportError:
        return None
    return resource if hasattr(resource, "RLIMIT_AS") else None


RESOURCE = _address_space_limit()


def vm_bytes() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def maybe_crash(step: str) -> None:
    if os.environ.get(_CRASH_HOOK) == step:
        import signal

        os.kill(os.getpid(), signal.SIGSEGV)


def limit_address_space(base_vm: int, memory_mb: int) -> bool:
    """Cap this process's address space at `base_vm` plus `memory_mb`; False where the system has
    no such limit. Only the soft limit is set, so that a reused child can get the next
    submission's limit; raising it again would need code running in here, and a model is data."""
    if RESOURCE is None or not memory_mb:
        return False
    limit = base_vm + int(memory_mb) * (1 << 20)
    RESOURCE.setrlimit(RESOURCE.RLIMIT_AS, (limit, RESOURCE.RLIM_INFINITY))
    return True


_PROBE_HOOK = "PODIUM_TEST_PROBE"  # test hook: the "probe" request, tried from inside a child


def _attempt(action: str, target: Any) -> str:
    import socket

    try:
        if action == "read":
            with open(str(target), "rb") as f:
                f.read(1)
        elif action == "write":
            with open(str(target), "wb") as f:
                f.write(b"x")
        elif action == "tcp":
            socket.create_connection((str(target[0]), int(target[1])), timeout=2).close()
        elif action == "unix":
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(target))
        elif action == "signal":
            os.kill(int(target), 0)
        else:
            return "unknown"
    except OSError as e:
        return errno.errorcode.get(e.errno or 0, str(e))
    return "ok"


def probe(tries: dict[str, list[Any]]) -> dict[str, str] | None:
    """What this child can reach, tried from inside it: {"read": [path], "write": [path],
    "tcp": [[host, port]], "unix": [path], "signal": [pid]} -> "<action> <target>": "ok" or
    the errno's name. None unless the test hook is set: it exists only in tests' environments."""
    if not os.environ.get(_PROBE_HOOK):
        return None
    return {
        f"{action} {target}": _attempt(action, target)
        for action, targets in tries.items()
        for target in targets
    }
