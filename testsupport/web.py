"""In-process helpers for the Django test suite: uploads as Django sees them, waiting on real grading."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from testsupport.procs import wait_for


def upload(data: bytes, name: str = "model.onnx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def wait_done(submission_id: Any, timeout: float = 60.0) -> Any:
    """The submission once its grading (by the real worker) has finished."""
    from competitions.models import Submission

    def done() -> Submission | None:
        s = Submission.objects.get(pk=submission_id)
        return s if s.is_done else None

    return wait_for(done, timeout, f"submission {submission_id} to be graded")


def scored_directly(sub: Any, public: float) -> Any:
    """A graded result written straight into the row (a confusion matrix with a few errors
    included), for tests about pages rather than grading; the standings follow."""
    from competitions.models import Submission
    from competitions.services.standings import standing_refresh_for

    confusion = [[40 if i == j else 2 * (j == (i + 1) % 10) for j in range(10)] for i in range(10)]
    Submission.objects.filter(pk=sub.pk).update(
        status="scored",
        public_score=public,
        private_score=public,
        params=61706,
        macs=61706,
        ms_per_image=0.1,
        public_scores={
            "accuracy": public,
            "per_class_accuracy": [public] * 10,
            "macro_f1": public,
            "confusion": confusion,
            "log_loss": None,
        },
        result={
            "layout": "nchw",
            "preprocess": {"name": "unit", "source": "declared"},
            "provider": "CPUExecutionProvider",
            "batch_mode": "dynamic",
        },
    )
    standing_refresh_for(submission=sub)
    sub.refresh_from_db()
    return sub
