"""Accepting uploads, queueing them, and the choices students and instructors make about them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from competitions.errors import NotAllowed, Refused
from competitions.models import Competition, RefusedUpload, Submission
from competitions.preprocess import preprocess_engine_args, preprocess_normalize
from competitions.selectors.queue import queue_round_for
from competitions.selectors.quota import flood_check, quota_get
from competitions.services.dispatch import submissions_dispatch_later
from competitions.services.locks import lock_entrant
from competitions.services.standings import standing_refresh_for
from competitions.services.teams import team_for_user
from competitions.services.uploads import Refuse, UploadLike, upload_name_checked, upload_store
from competitions.text import text_checked
from grader import check_upload
from grader.errors import Rejected
from grader.preprocess import PRESETS as ENGINE_PRESETS

PRESETS = tuple(ENGINE_PRESETS)  # the engine's preset names


@dataclass(frozen=True)
class _Checked:
    """An upload that passed the checks: its display name, format, bytes and preprocessing."""

    name: str
    fmt: str
    data: bytes
    preprocess: str
    mean: list[float] | None
    std: list[float] | None


def _content_checked(
    *,
    competition: Competition,
    upload: UploadLike,
    name: str,
    pre: tuple[Any, ...],
    refuse: Refuse,
) -> _Checked:
    """Read the upload and run the engine's static checks on it (nothing is executed)."""
    preprocess, mean, std = pre
    dataset = competition.dataset
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
    fmt = name.rsplit(".", 1)[-1].lower()
    return _Checked(name=name, fmt=fmt, data=data, preprocess=preprocess, mean=mean, std=std)


def _submission_new(*, checked: _Checked, note: str, **fields: Any) -> Submission:
    return Submission(
        file_format=checked.fmt,
        sha256=hashlib.sha256(checked.data).hexdigest(),
        original_name=checked.name,
        file_bytes=len(checked.data),
        preprocess=checked.preprocess,
        mean=checked.mean,
        std=checked.std,
        note=note.strip()[:300],
        **fields,
    )


def _submission_save(*, sub: Submission, checked: _Checked, guard: Callable[[], None]) -> None:
    """Store the file, then in one transaction: `guard` (locks, checks), the row, its standing
    and its grading task (sent on commit). On any failure the stored file is removed again."""
    upload_store(sub, checked.name, checked.data)
    try:
        with transaction.atomic():
            guard()
            sub.save()
            standing_refresh_for(submission=sub)  # entries and last submission
            submission_enqueue(submission=sub)
    except BaseException:
        sub.file.delete(save=False)
        raise


def submission_create(
    *,
    user: User,
    competition: Competition,
    upload: UploadLike,
    preprocess: str = "",
    mean: list[float] | None = None,
    std: list[float] | None = None,
    note: str = "",
) -> Submission:
    """A student's upload: static checks at once (refusals are recorded for the flood limit, not
    the quota), then a queued submission whose grading task is sent when the transaction commits."""
    text_checked(note=note)
    now = timezone.now()
    flood_check(user=user, now=now)
    if now < competition.opens_at:
        raise Refused("not_open", "This competition has not opened yet.")
    if not competition.accepts_submissions(now):
        raise Refused("closed", "This competition is closed: the deadline has passed.")

    def refuse(code: str, message: str) -> Refused:
        RefusedUpload.objects.create(user=user, competition=competition, code=code, message=message)
        return Refused(code, message)

    name = upload_name_checked(competition=competition, upload=upload, refuse=refuse)
    pre = preprocess_normalize(preprocess=preprocess, mean=mean, std=std)
    team = team_for_user(competition=competition, user=user)
    quota_get(competition=competition, user=user, team=team, now=now).check(now)
    checked = _content_checked(
        competition=competition, upload=upload, name=name, pre=pre, refuse=refuse
    )

    def guard() -> None:
        # Serialize concurrent uploads of one entrant, then count again: no double spend.
        lock_entrant(user=user, team=team)
        quota_get(competition=competition, user=user, team=team, now=now).check(now)

    sub = _submission_new(
        checked=checked, note=note, competition=competition, user=user, team=team, created_at=now
    )
    _submission_save(sub=sub, checked=checked, guard=guard)
    return sub


def baseline_create(
    *,
    user: User,
    competition: Competition,
    upload: UploadLike,
    label: str,
    preprocess: str = "",
    note: str = "",
) -> Submission:
    """A reference entry of its own on the leaderboard: the same file checks as a student's
    upload, but no opening hours, quota, flood count or team; refusals are not recorded."""
    text_checked(label=label, note=note)
    name = upload_name_checked(competition=competition, upload=upload, refuse=Refused)
    pre = preprocess_normalize(preprocess=preprocess, mean=None, std=None)
    checked = _content_checked(
        competition=competition, upload=upload, name=name, pre=pre, refuse=Refused
    )
    sub = _submission_new(
        checked=checked,
        note=note,
        competition=competition,
        user=user,
        is_baseline=True,
        label=label[:120],
        created_at=timezone.now(),
    )
    _submission_save(sub=sub, checked=checked, guard=lambda: None)
    return sub


def submission_enqueue(*, submission: Submission) -> None:
    """Mark as queued now; once the surrounding transaction commits, the dispatcher sends it
    when its turn comes (services/dispatch.py)."""
    Submission.objects.filter(pk=submission.pk).update(
        enqueued_at=timezone.now(),
        dispatched_at=None,
        queue_round=queue_round_for(submission=submission),
    )
    submissions_dispatch_later()


def submission_rescore(*, submission: Submission) -> bool:
    """Grade again from scratch (e.g. after the dataset or the engine changed)."""
    with transaction.atomic():
        changed = (
            Submission.objects.filter(pk=submission.pk)
            .exclude(status=Submission.Status.RUNNING)
            .update(
                status=Submission.Status.QUEUED,
                is_rescore=True,  # behind the students' submissions in the queue
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


def submission_choose_final(*, user: User, submission: Submission) -> None:
    competition = submission.competition
    if competition.is_finished():
        raise Refused("closed", "The competition is closed; the final choice is locked.")
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
