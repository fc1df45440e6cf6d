"""The analysis child: parses, checks and measures one untrusted upload under OS limits.

Everything that reads an uploaded file's structure runs here, never in the web process or the
Celery worker: protobuf parsing, the .npz and Keras conversions, the static checks and adaptation
(grader.prepare), and onnx shape inference for the efficiency columns (grader.efficiency). A
SIGSEGV in onnx's C++ or an exponential blow-up kills or stalls only this process, which the
parent replaces. It imports onnx but never onnxruntime; the inference child is the reverse.
Same framing and start-up as grader.sandbox_child (protocol on a duplicate of stdout).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import numpy as np

from grader import oslimits, protocol
from grader.oslimits import limit_address_space, maybe_crash, vm_bytes


def _unreadable(filename: str, e: BaseException) -> dict[str, Any]:
    """An exception no check anticipated: the file is refused as unreadable, with the cause."""
    lower = filename.lower()
    code, what = "not_onnx", "an ONNX model"
    if lower.endswith(".npz"):
        code, what = "npz_invalid", "a NumPy network"
    elif lower.endswith((".keras", ".h5", ".hdf5")):
        code, what = "keras_invalid", "a Keras model"
    detail = f"{type(e).__name__}: {e}"[:300]
    return {"code": code, "message": f"the file could not be read as {what} ({detail})"}


class Analyser:
    def __init__(self) -> None:
        self.base_vm = vm_bytes()  # with onnx imported, before any upload
        self.model: Any = None
        self.batch = 1  # the input's fixed batch size: MACs are per image

    def prepare(self, req: dict[str, Any], data: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
        from grader.prepare import prepare
        from grader.types import Limits

        self.model = None
        maybe_crash("prepare")
        args = dict(req["args"])
        args["image_shape"] = tuple(args["image_shape"])
        prep, self.model = prepare(data, limits=Limits(**req["limits"]), **args)
        self.batch = prep.plan.batch_size if prep.plan.batch_mode == "fixed" else 1
        same = prep.model_bytes is data
        arrays = {} if same else {"model": np.frombuffer(prep.model_bytes, dtype=np.uint8)}
        for i, variant in enumerate(prep.variants):
            arrays[f"variant{i}"] = np.frombuffer(variant.model_bytes, dtype=np.uint8)
        return {"prepared": prep.to_wire(), "same_bytes": same}, arrays

    def analyse(self) -> dict[str, Any]:
        from grader import efficiency

        maybe_crash("analyse")
        if self.model is None:
            raise RuntimeError("no prepared model to analyse")
        return {"efficiency": efficiency.analyse(self.model, batch=self.batch)}


def _handle(
    analyser: Analyser, req: dict[str, Any], arrays: dict[str, np.ndarray]
) -> tuple[dict[str, Any], dict[str, Any]]:
    from grader.errors import Rejected

    limited = limit_address_space(analyser.base_vm, int(req.get("memory_mb") or 0))
    try:
        if req.get("op") == "prepare":
            return analyser.prepare(req, arrays["data"].tobytes())
        return analyser.analyse(), {}
    except Rejected as e:
        return {"rejected": {"code": e.code, "message": e.message}}, {}
    except MemoryError:
        analyser.model = None
        return {"error": "memory_limit", "limited": limited}, {}
    except Exception as e:  # a check that did not expect this file: refused, saying why
        return {
            "error": "unreadable",
            **_unreadable(str(req.get("args", {}).get("filename", "")), e),
        }, {}


def main(not_confined: list[str] | None = None) -> None:
    """`not_confined`: what grader.confine could not apply (the inference child, under the same
    kernel, reports it with each result; this one only at start)."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    stdin = sys.stdin.buffer
    sys.setrecursionlimit(2000)  # deep nesting fails as RecursionError, not a C stack overflow
    importlib.import_module("grader.prepare")  # onnx and the checks, loaded while it waits
    importlib.import_module("grader.keras")  # and the Keras reader with h5py (native HDF5)
    importlib.import_module("h5py")

    protocol.send(out, {"ready": True, "pid": os.getpid(), "not_confined": not_confined or []})
    analyser = Analyser()
    while True:
        try:
            req, arrays = protocol.recv(stdin)
        except EOFError:
            return
        if req.get("op") == "exit":
            return
        found = oslimits.probe(req.get("tries", {})) if req.get("op") == "probe" else None
        if found is not None:
            protocol.send(out, {"ok": True, "probe": found})
            continue
        header, outs = _handle(analyser, req, arrays)
        protocol.send(out, {"ok": True, **header}, outs)


if __name__ == "__main__":
    main()
