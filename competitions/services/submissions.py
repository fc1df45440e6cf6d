"""Accepting uploads, queueing them, and the choices students and instructors make about them."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import logging
import re
import unicodedata
from pathlib import PurePath
from typing import Any, Protocol

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from competitions.errors import NotAllowed, Refused, ServiceError
from competitions.models import Competition, RefusedUpload, Submission, Team
from competitions.selectors.quota import flood_check, quota_get
from competitions.services.standings import standing_refresh_for
from competitions.services.teams import team_for_user
from grader import check_upload
from grader.errors import Rejected
from grader.preprocess import PRESETS as ENGINE_PRESETS

logger = logging.getLogger(__name__)

PRESETS = tuple(ENGINE_PRESETS)  # the engine's preset names
FORMATS = ("onnx", "npz")


class UploadLike(Protocol):
    name: str
    size: int

    def read(self, size: int = -1) -> bytes: ...


def filename_sanitize(name: str) -> str:
    """Display text only (the stored file gets a UUID name): base name, safe characters."""
    base = PurePath(name.replace("\\", "/")).name
    base = unicodedata.normalize("NFKC", base)
    base = re.sub(r"[^\w.\- ]+", "_", base).strip(" .") or "model"
    if len(base) > 100:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: 100 - len(ext) - 1] + dot + ext) if dot else base[:100]
    return base


def preprocess_normalize(
    *, preprocess: str, mean: list[float] | None, std: list[float] | None
) -> tuple[str, list[float] | None, list[float] | None]:
    """('' = automatic | preset | 'custom', mean, std); the engine validates the values."""
    preprocess = (preprocess or "").strip().lower()
    if mean is not None or std is not None or preprocess == "custom":
        return "custom", mean, std
    if preprocess in ("", "auto"):
        return "", None, None
    return preprocess, None, None


def preprocess_engine_args(
    *, preprocess: str, mean: list[float] | None, std: list[float] | None
) -> dict[str, Any]:
    """The engine's keyword arguments for a stored ('' | preset | 'custom', mean, std)."""
    if preprocess == "custom":
        return {"preprocess": None, "mean": mean, "std": std}
    return {"preprocess": preprocess or None, "mean": None, "std": None}


def submission_create(
    *,
    user: AbstractBaseUser,
    competition: Competition,
    upload: UploadLike,
    preprocess: str = "",
    mean: list[float] | None = None,
    std: list[float] | None = None,
    note: str = "",
    is_baseline: bool = False,
    label: str = "",
    now: dt.datetime | None = None,
) -> Submission:
    """Static checks at once (refusals are recorded for the flood limit, not the quota), then a
    queued submission whose grading task is sent when the transaction commits."""
    now = now or timezone.now()
    dataset = competition.dataset
    if not is_baseline:
        flood_check(user=user, now=now)
        if now < competition.opens_at:
            raise Refused("not_open", "This competition has not opened yet.")
        if not competition.accepts_submissions(now):
            raise Refused("closed", "This competition is closed: the deadline has passed.")

    def refuse(code: str, message: str) -> Refused:
        if not is_baseline:
            RefusedUpload.objects.create(
                user=user, competition=competition, code=code, message=message
            )
        return Refused(code, message)

    name = filename_sanitize(upload.name)
    fmt = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    allowed = competition.allowed_formats or list(FORMATS)
    if fmt not in allowed:
        raise refuse("bad_format", f"Upload a {' or '.join('.' + f for f in allowed)} file.")
    max_bytes = settings.PODIUM_MAX_UPLOAD_MB * 1024 * 1024
    if upload.size > max_bytes:
        raise refuse("too_large", f"The file is over {settings.PODIUM_MAX_UPLOAD_MB} MB.")
    preprocess, mean, std = preprocess_normalize(preprocess=preprocess, mean=mean, std=std)
    team = None if is_baseline else team_for_user(competition=competition, user=user)
    if not is_baseline:
        quota_get(competition=competition, user=user, team=team, now=now).check(now)
    data = upload.read()
    try:
        check_upload(
            data,
            name,
            image_shape=tuple(dataset.image_shape),
            n_classes=len(dataset.classes),
            **preprocess_engine_args(preprocess=preprocess, mean=mean, std=std),
        )
    except Rejected as e:
        raise refuse(e.code, e.message) from e
    sub = Submission(
        competition=competition,
        user=user,
        team=team,
        is_baseline=is_baseline,
        label=label[:120],
        file_format=fmt,
        sha256=hashlib.sha256(data).hexdigest(),
        original_name=name,
        file_bytes=len(data),
        preprocess=preprocess,
        mean=mean,
        std=std,
        note=note.strip()[:300],
        created_at=now,
    )
    _store_upload(sub, name, data)
    try:
        with transaction.atomic():
            if not is_baseline:
                # Serialize concurrent uploads of one entrant, then count again: no double spend.
                owner = Team.objects if team is not None else get_user_model().objects
                # NO KEY UPDATE: still one upload of an entrant at a time, but no conflict with
                # the key-share lock a grading transaction's deferred foreign-key check takes on
                # the same user at commit (FOR UPDATE here deadlocked with it on PostgreSQL).
                locked = owner.select_for_update(no_key=True).filter(pk=(team or user).pk)
                list(locked.values_list("pk"))
                quota_get(competition=competition, user=user, team=team, now=now).check(now)
            sub.save()
            standing_refresh_for(submission=sub)  # entries and last submission
            submission_enqueue(submission=sub)
    except BaseException:
        sub.file.delete(save=False)
        raise
    return sub


class StorageUnavailable(ServiceError):
    """Our storage could not keep the file (disk full, I/O error): nothing was recorded."""

    status = 503


def _store_upload(sub: Submission, name: str, data: bytes) -> None:
    """Write the upload under its UUID name; on a storage error remove any partial file and
    tell the student clearly (no row exists yet, no quota is used)."""
    storage = sub.file.storage
    target = sub.file.field.generate_filename(sub, name)
    try:
        sub.file.name = storage.save(
            target, ContentFile(data), max_length=sub.file.field.max_length
        )
    except OSError as e:
        logger.error("could not store upload %s (%s)", target, e)
        try:
            storage.delete(target)
        except OSError:
            pass
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageUnavailable(
                "storage_full",
                "The server has no space left to store your file. Nothing was recorded and no "
                "submission was used; please try again later.",
            ) from e
        raise StorageUnavailable(
            "storage_error",
            "The server could not store your file. Nothing was recorded and no submission was "
            "used; please try again later.",
        ) from e


def submission_send_task(*, submission_id: str, queue: str) -> None:
    """Send the grading message; a broker failure is logged and left to the sweeper."""
    from competitions.tasks import grade_submission

    try:
        grade_submission.apply_async(args=[submission_id], queue=queue, retry=False)
    except Exception as e:  # broker down: the sweeper sends it again later
        logger.warning("could not enqueue %s (%s); the sweeper will retry", submission_id, e)


def submission_enqueue(*, submission: Submission) -> None:
    """Mark as queued now and send the task once the surrounding transaction commits."""
    Submission.objects.filter(pk=submission.pk).update(enqueued_at=timezone.now())
    sid, queue = str(submission.pk), submission.competition.queue
    transaction.on_commit(lambda: submission_send_task(submission_id=sid, queue=queue))


def submission_rescore(*, submission: Submission) -> bool:
    """Grade again from scratch (e.g. after the dataset or the engine changed)."""
    with transaction.atomic():
        changed = (
            Submission.objects.filter(pk=submission.pk)
            .exclude(status=Submission.Status.RUNNING)
            .update(
                status=Submission.Status.QUEUED,
                attempts=0,
                progress=0.0,
                error_code="",
                error_message="",
                public_score=None,
                private_score=None,
                finished_at=None,
                started_at=None,
            )
        )
        if changed:
            standing_refresh_for(submission=submission)
            submission_enqueue(submission=submission)
    return bool(changed)


def competition_rescore_all(*, competition: Competition) -> int:
    subs = Submission.objects.filter(competition=competition).exclude(
        status=Submission.Status.RUNNING
    )
    return sum(submission_rescore(submission=s) for s in subs.select_related("competition"))


def submission_choose_final(*, user: AbstractBaseUser, submission: Submission) -> None:
    competition = submission.competition
    if competition.is_finished():
        raise NotAllowed("closed", "The competition is closed; the final choice is locked.")
    if submission.status != Submission.Status.SCORED or submission.is_baseline:
        raise Refused("not_scored", "Only a scored submission can be chosen.")
    team = team_for_user(competition=competition, user=user)
    if team is not None and submission.team_id == team.pk:
        entrant = Submission.objects.filter(competition=competition, team=team)
    elif submission.user_id == user.pk and submission.team_id is None:
        entrant = Submission.objects.filter(competition=competition, user=user, team__isnull=True)
    else:
        raise NotAllowed("not_yours", "You can only choose your own (or your team's) entry.")
    with transaction.atomic():
        entrant.filter(is_final=True).update(is_final=False)
        Submission.objects.filter(pk=submission.pk).update(is_final=True)
        standing_refresh_for(submission=submission)


def submission_set_flags(
    *, submission: Submission, hidden: bool | None = None, disqualified: bool | None = None
) -> None:
    fields: dict[str, Any] = {}
    if hidden is not None:
        fields["hidden"] = hidden
    if disqualified is not None:
        fields["disqualified"] = disqualified
    if fields:
        with transaction.atomic():
            Submission.objects.filter(pk=submission.pk).update(**fields)
            standing_refresh_for(submission=submission)


def competition_close(*, competition: Competition) -> None:
    Competition.objects.filter(pk=competition.pk).update(closed=True, closed_at=timezone.now())
