"""A sandbox child for tests: answers every request with a progress report and its reply in one
write, as the inference child does when its last batch ends just after a report."""

from __future__ import annotations

import io
import os
import sys

from grader import protocol


def main(gaps: list[str] | None = None) -> None:  # gaps: what confinement could not apply
    out = os.fdopen(os.dup(1), "wb")
    protocol.send(out, {"ready": True, "pid": os.getpid()})
    while True:
        try:
            req, _ = protocol.recv(sys.stdin.buffer)
        except EOFError:
            return
        if req.get("op") == "exit":
            return
        both = io.BytesIO()
        protocol.send(both, {"progress": 0.5})
        protocol.send(both, {"ok": True, "echo": req.get("op")})
        out.write(both.getvalue())
        out.flush()
