"""Podium's grading engine: validate, adapt and score student models. No Django, no Celery.

onnxruntime is imported only inside the sandbox child (grader.sandbox_child), never here.
"""

from grader.engine import check_upload, grade
from grader.errors import DatasetError, GraderError, Rejected, RunFailed
from grader.types import GradeResult, Limits, Preprocess

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
]
