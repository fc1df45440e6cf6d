"""The parent's side of the analysis child: one upload parsed, checked and measured out of process.

`Analysis.prepare` is the upload check (the web's, and the grader's first step) under a time
limit and the analysis memory limit; `start_efficiency` / `efficiency` overlap the efficiency
analysis (onnx shape inference) with the inference run. What goes wrong in the child:
- a refusal (grader.validate, grader.npnet, ...): Rejected with its own code;
- an exception no check expected: Rejected `not_onnx` / `npz_invalid`, saying which;
- out of memory or time, or a crash (onnx's C++ has SIGSEGVs on malformed graphs): Rejected
  `too_complex` / `analysis_crashed` while preparing, a time limit under a grading deadline;
  while measuring efficiency, only the figures are lost ("unavailable"), never the score.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from grader.errors import Rejected, RunFailed
from grader.prepared import Prepared
from grader.sandbox import ANALYSIS_CHILD, ChildProcess, SandboxPool
from grader.types import DEFAULT_LIMITS, Limits

_pool: SandboxPool | None = None
# Checks one process runs at once (a web process's threads), each in a child of its own; more
# wait for one. Each idle child keeps about 35 MB of its own memory (65 MB resident, measured).
POOL_SIZE = 4


def analysis_pool() -> SandboxPool:
    """Pre-started, reused analysis children (one pool per process: web worker or grader)."""
    global _pool
    if _pool is None:
        _pool = SandboxPool(
            warm=True, entry=ANALYSIS_CHILD, crashed="the model checker", size=POOL_SIZE
        )
    return _pool


def _limits_wire(limits: Limits) -> dict[str, Any]:
    return {k: getattr(limits, k) for k in limits.__dataclass_fields__}


def _wire_values(v: Any) -> Any:
    """mean/std as JSON: text and numbers as they are (the child's parser judges them)."""
    if v is None or isinstance(v, str | int | float):
        return v
    try:
        return [float(x) for x in v]
    except (TypeError, ValueError):
        return str(v)


class Analysis:
    """One upload in one analysis child; `close` gives the child back (or replaces it)."""

    def __init__(self, *, limits: Limits = DEFAULT_LIMITS, pool: SandboxPool | None = None):
        self.limits = limits
        self.pool = pool or analysis_pool()
        self.child: ChildProcess = self.pool.acquire()
        self.clean = True
        self.prepared: Prepared | None = None
        self._pending = False  # an efficiency request sent and not yet answered

    def _request(
        self, header: dict[str, Any], arrays: dict[str, np.ndarray], time_s: float
    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        header = {**header, "memory_mb": self.limits.analysis_memory_mb}
        try:
            reply, outs = self.child.request(header, arrays, time_s=time_s)
        except RunFailed:
            self.clean = False
            raise
        if "error" in reply:
            self.clean = False  # out of memory or an exception: start the next upload afresh
        return reply, outs

    def prepare(
        self,
        data: bytes,
        filename: str,
        *,
        image_shape: tuple[int, int, int],
        n_classes: int,
        preprocess_name: str | None = None,
        mean: str | Sequence[float] | None = None,
        std: str | Sequence[float] | None = None,
        layout: str | None = None,
        time_s: float | None = None,
    ) -> Prepared:
        """The upload checked in the child; raises Rejected (or RunFailed("time_limit") when a
        grading deadline's `time_s` ran out)."""
        args = {
            "filename": filename,
            "image_shape": list(image_shape),
            "n_classes": n_classes,
            "preprocess_name": preprocess_name,
            "mean": _wire_values(mean),
            "std": _wire_values(std),
            "layout": layout,
        }
        header = {"op": "prepare", "args": args, "limits": _limits_wire(self.limits)}
        budget = self.limits.check_time_s if time_s is None else time_s
        try:
            reply, outs = self._request(
                header, {"data": np.frombuffer(data, dtype=np.uint8)}, budget
            )
        except RunFailed as e:
            raise self._prepare_failed(e, under_deadline=time_s is not None) from e
        if "rejected" in reply:
            raise Rejected(reply["rejected"]["code"], reply["rejected"]["message"])
        if reply.get("error") == "memory_limit":
            raise Rejected(
                "too_complex",
                f"checking the file needed more than {self.limits.analysis_memory_mb} MB of "
                "memory; a model of this size cannot be graded here",
            )
        if "error" in reply:
            raise Rejected(reply["code"], reply["message"])
        model = data if reply.get("same_bytes") else outs["model"].tobytes()
        variants = [
            outs[f"variant{i}"].tobytes() for i in range(len(outs)) if f"variant{i}" in outs
        ]
        self.prepared = Prepared.from_wire(reply["prepared"], model, variants)
        return self.prepared

    def _prepare_failed(self, e: RunFailed, *, under_deadline: bool) -> GraderFailure:
        if e.code == "time_limit":
            if under_deadline:
                return e
            return Rejected(
                "too_complex",
                f"checking the file took more than {self.limits.check_time_s:g} s; "
                "it cannot be graded as it is",
            )
        if e.code == "crashed":
            return Rejected(
                "analysis_crashed",
                f"{e.message}: the file is malformed in a way the ONNX checker cannot survive; "
                "export it again with a standard exporter",
            )
        return e

    def start_efficiency(self) -> None:
        """Ask for the efficiency figures now; `efficiency` collects them later."""
        self.child.send({"op": "analyse", "memory_mb": self.limits.analysis_memory_mb})
        self._pending = True

    def efficiency(self, *, time_s: float) -> dict[str, Any]:
        """params, MACs and summary rows; with `unavailable` (and MACs None) when the analysis
        crashed, ran out of memory or out of `time_s`: the model is still scored."""
        assert self.prepared is not None
        if not self._pending:
            self.start_efficiency()
        try:
            reply, _ = self.child.receive(time.monotonic() + max(time_s, 0.0))
            self._pending = False
        except RunFailed as e:
            self.clean = False
            self.child.kill()
            reason = "it took too long" if e.code == "time_limit" else e.message
            return self._unavailable(reason)
        if not reply.get("ok") or "efficiency" not in reply:
            self.clean = False
            return self._unavailable(str(reply.get("error") or reply.get("rejected")))
        return dict(reply["efficiency"])

    def _unavailable(self, reason: str) -> dict[str, Any]:
        assert self.prepared is not None
        return {
            "params": self.prepared.params,
            "macs": None,
            "summary": [],
            "unavailable": f"MACs and the layer summary are unavailable: the analysis failed ({reason})",
        }

    def close(self) -> None:
        # A child still working on an unanswered request is not handed to the next upload.
        self.pool.release(self.child, clean=self.clean and not self._pending)

    def __enter__(self) -> Analysis:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


GraderFailure = Rejected | RunFailed
