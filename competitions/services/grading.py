"""The worker side: claim a queued submission, grade it with the engine, write the result once.

A redelivered message never grades twice: the claim is a conditional UPDATE (queued -> running)
that must change exactly one row, and the final write is conditional on the same attempt.
The sweeper frees the slots of lost messages and retries (then fails) submissions whose worker
was lost; the dispatcher (services/dispatch.py) then sends what is next.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import DataError, InterfaceError, OperationalError, transaction
from django.db.models import CharField, F, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from competitions.dataset_cache import DatasetCacheFull, dataset_load, dataset_load_sample
from competitions.events import channel_submission, events_prune, events_publish
from competitions.models import Competition, Submission
from competitions.preprocess import preprocess_engine_args
from competitions.services.dispatch import submissions_dispatch
from competitions.services.notify import notify_result
from competitions.services.robustness import robust_dataset, robust_split
from competitions.services.standings import standing_refresh_for
from competitions.significance import bootstrap_ci, correct_pack
from competitions.splits import split_indices
from competitions.storable import json_storable, text_storable
from grader import grade
from grader.errors import GraderError
from grader.metrics import compute_scores
from grader.types import GradeResult, Limits

logger = logging.getLogger(__name__)
S = Submission.Status


class AttemptLost(Exception):
    """The database went away during an attempt: nothing was written; the task retries."""

    def __init__(self, attempt: int | None) -> None:
        super().__init__(f"database unavailable during attempt {attempt}")
        self.attempt = attempt


def submission_requeue_lost(*, submission_id: uuid.UUID | str, attempt: int) -> bool:
    """Put an attempt that lost its database back in the queue (only if it is still that one)."""
    line = _log(f"attempt {attempt} lost its database connection; retrying")
    return bool(
        _running(submission_id, attempt).update(
            status=S.QUEUED, enqueued_at=timezone.now(), log=Concat(F("log"), Value(line))
        )
    )


def submission_claim(*, submission_id: uuid.UUID | str) -> int | None:
    """queued -> running; returns this attempt's number, or None when someone else has it."""
    now = timezone.now()
    # The "started" line goes in with the claim, not with the result: an attempt whose worker is
    # killed still leaves it. F("attempts") is the old value in the UPDATE, hence + 1.
    started = Concat(
        F("log"),
        Value(f"{now:%Y-%m-%d %H:%M:%S} attempt "),
        Cast(F("attempts") + 1, CharField()),
        Value(f" started on {socket.gethostname()}\n"),
    )
    changed = Submission.objects.filter(pk=submission_id, status=S.QUEUED).update(
        status=S.RUNNING, attempts=F("attempts") + 1, started_at=now, progress=0.0, log=started
    )
    if changed != 1:
        return None
    events_publish(channel_submission(submission_id))
    return Submission.objects.values_list("attempts", flat=True).get(pk=submission_id)


def submission_queue(*, submission_id: uuid.UUID | str) -> str | None:
    """The queue (cpu or gpu) a submission is graded on: its competition's."""
    return (
        Submission.objects.filter(pk=submission_id)
        .values_list("competition__queue", flat=True)
        .first()
    )


def _log(line: str) -> str:
    return f"{timezone.now():%Y-%m-%d %H:%M:%S} {line}\n"


def _running(submission_id: Any, attempt: int) -> Any:
    return Submission.objects.filter(pk=submission_id, status=S.RUNNING, attempts=attempt)


def split_scores(
    *, competition: Competition, labels: np.ndarray, result: GradeResult, n_classes: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    public, private = split_indices(
        len(labels), competition.public_fraction, competition.split_seed
    )
    preds = np.asarray(result.predictions, dtype=np.int64)
    probs = result.probabilities
    out = []
    for idx in (public, private):
        scores = compute_scores(
            labels[idx], preds[idx], None if probs is None else probs[idx], n_classes=n_classes
        )
        scores["score_ci"] = bootstrap_ci(labels[idx] == preds[idx])
        out.append(scores)
    return out[0], out[1]


def _fail(sub_id: Any, attempt: int, *, code: str, message: str, log: str, counts: bool) -> None:
    events_publish(channel_submission(sub_id))
    _running(sub_id, attempt).update(
        status=S.FAILED,
        error_code=code[:40],
        error_message=text_storable(message),
        finished_at=timezone.now(),
        counts_toward_quota=counts,
        log=Concat(F("log"), Value(text_storable(log))),
    )


def submission_grade(*, submission_id: uuid.UUID | str) -> str:
    """Grade one submission; returns what happened (for logs and tests)."""
    t0 = time.perf_counter()
    try:
        attempt = submission_claim(submission_id=submission_id)
    except (OperationalError, InterfaceError) as e:
        raise AttemptLost(None) from e
    if attempt is None:
        logger.info("submission %s is not queued: skipped (duplicate delivery?)", submission_id)
        return "skipped"
    try:
        outcome = _grade_claimed(submission_id, attempt, claim_ms=(time.perf_counter() - t0) * 1000)
    except (OperationalError, InterfaceError) as e:  # the database, not the model: retry
        raise AttemptLost(attempt) from e
    if outcome in ("scored", "failed"):
        try:
            notify_result(submission_id=str(submission_id))
        except Exception:  # the result stands; a lost notification is only logged
            logger.exception("could not notify the result of %s", submission_id)
    return outcome


def _grade_claimed(submission_id: uuid.UUID | str, attempt: int, *, claim_ms: float) -> str:
    sub = Submission.objects.select_related("competition__dataset").get(pk=submission_id)
    competition = sub.competition
    log = ""  # appended to the row with the outcome
    last = [time.monotonic()]

    def progress(fraction: float) -> None:
        t = time.monotonic()
        # At most once a second, from one second in, as the submission page polls: each write
        # is a commit, and each event makes open pages fetch their status, all taking CPU from
        # the model on a small machine. A grading under a second writes none, and the end is
        # never written (the result follows at once).
        if t - last[0] >= 1.0 and fraction < 1.0:
            last[0] = t
            if _running(sub.pk, attempt).update(progress=max(0.0, min(float(fraction), 1.0))):
                events_publish(channel_submission(sub.pk))

    try:
        t0 = time.perf_counter()
        dataset = dataset_load(record=competition.dataset)
        graded, robust = robust_dataset(competition=competition, clean=dataset)
        dataset_ms = (time.perf_counter() - t0) * 1000
        with sub.file.open("rb") as f:
            data = f.read()
        limits = Limits(
            threads=settings.PODIUM_GRADER_THREADS,
            time_s=float(competition.time_limit_s),
            memory_mb=competition.memory_mb,
            max_file_mb=settings.PODIUM_MAX_UPLOAD_MB,
        )
        result = grade(
            data,
            sub.original_name,
            graded,
            **preprocess_engine_args(
                preprocess=sub.preprocess, mean=sub.mean, std=sub.std, layout=sub.layout
            ),
            sample=dataset_load_sample(record=competition.dataset),
            limits=limits,
            progress=progress,
        )
    except (OperationalError, InterfaceError):
        raise  # not the student's fault nor ours: the attempt is retried (submission_grade)
    except DatasetCacheFull as e:  # the worker's disk, not the model: does not use the quota
        log += _log(f"dataset cache: {e}")
        message = (
            "The grading server has no space left for the dataset; this submission does not "
            "count against your quota. Please submit it again later."
        )
        _fail(sub.pk, attempt, code="storage_full", message=message, log=log, counts=False)
        return "failed"
    except GraderError as e:
        log += _log(f"{e.kind}: {e.code}: {e.message}")
        _fail(sub.pk, attempt, code=e.code, message=e.message, log=log, counts=True)
        return "failed"
    except Exception as e:  # our fault, not the student's: does not use the quota
        log += _log("internal error:\n" + traceback.format_exc())
        message = f"Internal error while grading ({type(e).__name__}); staff can see the log."
        _fail(sub.pk, attempt, code="internal_error", message=message, log=log, counts=False)
        return "failed"

    t0 = time.perf_counter()
    result, robust_scores = robust_split(
        competition=competition, clean=dataset, result=result, robust=robust
    )
    public, private = split_scores(
        competition=competition,
        labels=dataset.labels,
        result=result,
        n_classes=len(dataset.classes),
    )
    metric = competition.metric
    # Where a worker's time goes besides the engine (read by bench/pipeline.py).
    pipeline_ms = {
        "claim_ms": claim_ms,
        "dataset_ms": dataset_ms,
        "split_scores_ms": (time.perf_counter() - t0) * 1000,
    }
    log += _log(f"scored on {result.n_images} images with {result.provider}")
    correct = correct_pack(np.asarray(result.predictions) == dataset.labels)
    scored = Scored(
        result=result,
        public=public,
        private=private,
        metric=metric,
        correct=correct,
        robust=robust_scores,
    )
    try:
        written = _write_result(
            sub=sub, attempt=attempt, scored=scored, log=log, pipeline_ms=pipeline_ms
        )
    except DataError as e:  # a value the database refuses: the submission fails, saying so
        log += _log(f"result not stored: {e}")
        message = f"The score could not be stored ({str(e).splitlines()[0][:200]}); staff can see the log."
        _fail(sub.pk, attempt, code="result_unstorable", message=message, log=log, counts=False)
        return "failed"
    return "scored" if written else "stale"


@dataclass(frozen=True)
class Scored:
    """The engine's result and its two split scores (each a dict of metrics)."""

    result: GradeResult
    public: dict[str, Any]
    private: dict[str, Any]
    metric: str
    correct: bytes  # per-image correctness over the whole set (significance.correct_pack)
    robust: dict[str, Any] | None = None  # the robustness track's scores per split


def _write_result(
    *, sub: Submission, attempt: int, scored: Scored, log: str, pipeline_ms: dict[str, float]
) -> int:
    """The scored row, only if this attempt still holds it; the standings in the same commit."""
    result, public, private, metric = scored.result, scored.public, scored.private, scored.metric
    with transaction.atomic():
        written = _running(sub.pk, attempt).update(
            status=S.SCORED,
            progress=1.0,
            finished_at=timezone.now(),
            public_score=public[metric],
            private_score=private[metric],
            public_scores=json_storable(public),
            private_scores=json_storable(private),
            result=json_storable({**result.to_dict(), "pipeline_ms": pipeline_ms}),
            params=result.params,
            macs=result.macs,
            ms_per_image=result.ms_per_image,
            predictions=np.asarray(result.predictions, dtype=np.int16).tobytes(),
            correct=scored.correct,
            public_ci=public["score_ci"],
            private_ci=private["score_ci"],
            robust_scores=scored.robust,
            public_robust=scored.robust["public"]["mean"] if scored.robust else None,
            private_robust=scored.robust["private"]["mean"] if scored.robust else None,
            error_code="",
            error_message="",
            log=Concat(F("log"), Value(text_storable(log))),
        )
        if written:
            standing_refresh_for(submission=sub)
            events_publish(channel_submission(sub.pk))  # on commit, with the result
        return written


def submissions_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Give back the slots of messages lost on the way (sent long ago, never claimed) and of
    workers that vanished while running (retried, at most PODIUM_MAX_ATTEMPTS attempts, then
    failed), then fill the free slots (services/dispatch.py)."""
    now = now or timezone.now()
    counts = {"requeued": 0, "retried": 0, "failed": 0}
    stale = now - dt.timedelta(seconds=settings.PODIUM_REQUEUE_AFTER_S)
    counts["requeued"] = Submission.objects.filter(status=S.QUEUED, dispatched_at__lt=stale).update(
        dispatched_at=None
    )
    running = Submission.objects.filter(status=S.RUNNING).values_list(
        "pk", "attempts", "started_at", "competition__time_limit_s"
    )
    grace = settings.CELERY_TASK_TIME_LIMIT
    for sid, attempts, started, limit_s in running:
        if started is None or started > now - dt.timedelta(seconds=limit_s + grace):
            continue
        if attempts < settings.PODIUM_MAX_ATTEMPTS:
            line = _log(f"attempt {attempts} lost (worker gone or stuck); queued again")
            # Its slot expires with the attempt: queued again, it waits for its turn.
            counts["retried"] += _running(sid, attempts).update(
                status=S.QUEUED,
                enqueued_at=now,
                queued_since=now,
                dispatched_at=None,
                log=Concat(F("log"), Value(line)),
            )
        else:
            message = f"Grading was interrupted {attempts} times (worker lost); giving up."
            _fail(
                sid, attempts, code="worker_lost", message=message, log=_log(message), counts=False
            )
            counts["failed"] += 1
    submissions_dispatch()
    events_prune()
    return counts
