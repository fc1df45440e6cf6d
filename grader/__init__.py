"""Podium's grading engine: validate, adapt and score student models. No Django, no Celery.

Importing the package is light on purpose: the sandbox child (`grader.sandbox_child`, the process
that runs untrusted models) imports `grader.protocol` and `grader.providers` only, and must not pay
for onnx and every validator (about 180 ms) nor carry them. The public names below are loaded
on first use (PEP 562). onnxruntime is imported only inside the sandbox child, never here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grader import npnet
    from grader.engine import check_upload, grade
    from grader.errors import DatasetError, GraderError, Rejected, RunFailed
    from grader.types import GradeResult, Limits, Preprocess

_EXPORTS = {
    "check_upload": "grader.engine",
    "grade": "grader.engine",
    "DatasetError": "grader.errors",
    "GraderError": "grader.errors",
    "Rejected": "grader.errors",
    "RunFailed": "grader.errors",
    "GradeResult": "grader.types",
    "Limits": "grader.types",
    "Preprocess": "grader.types",
}
# Submodules reached as attributes (`grader.npnet.save(...)`) without importing them first.
_MODULES = {"npnet": "grader.npnet"}
__all__ = [
    "DatasetError",
    "GradeResult",
    "GraderError",
    "Limits",
    "Preprocess",
    "Rejected",
    "RunFailed",
    "check_upload",
    "grade",
    "npnet",
]


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'grader' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
