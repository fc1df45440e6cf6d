"""What shared the cores during a measurement: CPU time (user + system) of every process on the
machine, read from Linux's /proc (empty elsewhere), grouped by what the process is."""

from __future__ import annotations

import os
from pathlib import Path

# Command-line fragments -> the group a process is counted in (first match wins).
GROUPS = (
    ("grader.sandbox_child", "inference child"),
    ("grader.analysis_child", "analysis child"),
    ("celery", "worker"),
    ("gunicorn", "web"),
    ("hypercorn", "web"),
    ("multiprocessing.spawn", "web"),  # hypercorn's worker processes
    ("bench.", "bench client"),
    ("chrome", "browser"),  # chromium, and its helpers' chrome_crashpad etc.
    ("run-driver", "browser driver"),
    ("postgres", "database"),
    ("redis-server", "database"),
)


def _group(argv: list[str], comm: str) -> str:
    line = " ".join(argv)
    for fragment, group in GROUPS:
        if fragment in line:
            return group
    return "kernel" if not argv else "other: " + (Path(argv[0]).name or comm)[:30]


def cpu_ms() -> dict[str, float]:
    """CPU ms used so far by each group of processes. A process that ended is counted under
    "<its parent's group>: ended children" once the parent has reaped it (a sandbox child
    retired after MAX_USES gradings: "worker: ended children"); "machine" is the whole machine's
    busy time (every core, /proc/stat), interrupts included."""
    tick = 1000 / os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            stat = (proc / "stat").read_text()
            raw = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        comm, rest = stat.split("(", 1)[1].rsplit(")", 1)
        fields = rest.split()
        argv = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
        name = _group(argv, comm)
        own, reaped = (sum(int(f) for f in fields[i : i + 2]) * tick for i in (11, 13))
        out[name] = out.get(name, 0.0) + own  # utime + stime
        ended = f"{name}: ended children"  # cutime + cstime: children it has reaped
        out[ended] = out.get(ended, 0.0) + reaped
    cpu = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    busy = sum(int(v) for i, v in enumerate(cpu[:8]) if i not in (3, 4))  # not idle, iowait
    out["machine"] = busy * tick
    return out


def cpu_used(before: dict[str, float], after: dict[str, float]) -> list[tuple[str, int]]:
    """Each group's CPU ms between two readings, largest first (10 ms and more)."""
    used = {k: v - before.get(k, 0.0) for k, v in after.items()}
    return sorted(((k, round(v)) for k, v in used.items() if v >= 10), key=lambda x: -x[1])
