"""Accepting uploads, queueing them, and the choices students and instructors make about them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from competitions.errors import NotAllowed, Refused
from competitions.models import Competition, LtiContext, RefusedUpload, Submission
from competitions.preprocess import Declared, declaration_normalize, preprocess_engine_args
from competitions.selectors.deadlines import submission_lateness
from competitions.selectors.queue import queue_round_for
from competitions.selectors.quota import flood_check, quota_get
from competitions.services.audit import Actor, audit_record
from competitions.services.dispatch import (
    deadlines_send,
    lti_grades_send,
    submissions_dispatch_later,
)
from competitions.services.locks import lock_entrant
from competitions.services.notify import notify_flag
from competitions.services.standings import standing_count_upload, standing_refresh_for
from competitions.services.teams import team_for_user
from competitions.services.uploads import (
    Refuse,
    UploadLike,
    upload_format,
    upload_name_checked,
    upload_store,
)
from competitions.text import text_checked
from grader import check_upload
from grader.errors import Rejected
from grader.preprocess import PRESETS as ENGINE_PRESETS

PRESETS = tuple(ENGINE_PRESETS)  # the engine's preset names


@dataclass(frozen=True)
class _Checked:
    """An upload that passed the checks: its display name, format, bytes and declaration."""

    name: str
    fmt: str
    data: bytes
    declared: Declared


def _declared(
    *,
    preprocess: str,
    mean: str | Sequence[float] | None,
    std: str | Sequence[float] | None,
    layout: str,
) -> Declared:
    """The declaration as stored, or the engine's reason for refusing it (before the upload is
    read: nothing is recorded against the flood limit)."""
    try:
        return declaration_normalize(preprocess=preprocess, mean=mean, std=std, layout=layout)
    except Rejected as e:
        raise Refused(e.code, e.message) from e


def _content_checked(
    *,
    competition: Competition,
    upload: UploadLike,
    name: str,
    declared: Declared,
    refuse: Refuse,
) -> _Checked:
    """Read the upload and run the engine's static checks on it (nothing is executed)."""
    dataset = competition.dataset
    data = upload.read()
    try:
        check_upload(
            data,
            name,
            image_shape=tuple(dataset.image_shape),
            n_classes=len(dataset.classes),
            **preprocess_engine_args(
                preprocess=declared.preprocess,
                mean=declared.mean,
                std=declared.std,
                layout=declared.layout,
            ),
        )
    except Rejected as e:
        raise refuse(e.code, e.message) from e
    fmt = upload_format(name)
    return _Checked(name=name, fmt=fmt, data=data, declared=declared)


def _submission_new(*, checked: _Checked, note: str, **fields: Any) -> Submission:
    return Submission(
        file_format=checked.fmt,
        sha256=hashlib.sha256(checked.data).hexdigest(),
        original_name=checked.name,
        file_bytes=len(checked.data),
        preprocess=checked.declared.preprocess,
        mean=checked.declared.mean,
        std=checked.declared.std,
        layout=checked.declared.layout,
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
            standing_count_upload(submission=sub)  # entries, last submission
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
    mean: str | Sequence[float] | None = None,
    std: str | Sequence[float] | None = None,
    layout: str = "",
    note: str = "",
) -> Submission:
    """A student's upload: static checks at once (refusals are recorded for the flood limit, not
    the quota), then a queued submission whose grading task is sent when the transaction commits."""
    text_checked(note=note)
    now = timezone.now()
    flood_check(user=user, now=now)
    if now < competition.opens_at:
        raise Refused("not_open", "This competition has not opened yet.")
    team = team_for_user(competition=competition, user=user)
    # On time, late under a penalty policy (days counted), or refused (extensions count).
    late_days = submission_lateness(competition=competition, user=user, team=team, now=now)

    def refuse(code: str, message: str) -> Refused:
        RefusedUpload.objects.create(user=user, competition=competition, code=code, message=message)
        return Refused(code, message)

    declared = _declared(preprocess=preprocess, mean=mean, std=std, layout=layout)
    name = upload_name_checked(competition=competition, upload=upload, refuse=refuse)
    quota_get(competition=competition, user=user, team=team, now=now).check(now)
    checked = _content_checked(
        competition=competition, upload=upload, name=name, declared=declared, refuse=refuse
    )

    def guard() -> None:
        # Serialize concurrent uploads of one entrant, then count again: no double spend.
        lock_entrant(user=user, team=team)
        quota_get(competition=competition, user=user, team=team, now=now).check(now)

    sub = _submission_new(
        checked=checked,
        note=note,
        competition=competition,
        user=user,
        team=team,
        created_at=now,
        late_days=late_days,
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
    declared = _declared(preprocess=preprocess, mean=None, std=None, layout="")
    checked = _content_checked(
        competition=competition, upload=upload, name=name, declared=declared, refuse=Refused
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
    now = timezone.now()
    Submission.objects.filter(pk=submission.pk).update(
        enqueued_at=now,
        queued_since=now,
        dispatched_at=None,
        queue_round=queue_round_for(submission=submission),
    )
    submissions_dispatch_later()


def submission_requeue(*, submission: Submission) -> bool:
    """Grade again from scratch (e.g. after the dataset or the engine changed). Not recorded in
    the audit log: the staff action that causes it is (a rescore, an edit)."""
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


def submission_rescore(*, submission: Submission, actor: Actor = None, reason: str = "") -> bool:
    """A staff member grades one submission again; recorded in the audit log."""
    with transaction.atomic():
        changed = submission_requeue(submission=submission)
        if changed:
            audit_record(actor=actor, action="rescore", submission=submission, reason=reason)
    return changed


def competition_rescore_all(
    *, competition: Competition, actor: Actor = None, reason: str = ""
) -> int:
    subs = Submission.objects.filter(competition=competition).exclude(
        status=Submission.Status.RUNNING
    )
    with transaction.atomic():
        n = sum(submission_requeue(submission=s) for s in subs.select_related("competition"))
        audit_record(
            actor=actor,
            action="rescore_all",
            competition=competition,
            reason=reason,
            details={"queued": n},
        )
    return n


def submission_choose_final(*, user: User, submission: Submission) -> None:
    competition = submission.competition
    if competition.is_finished():
        raise Refused("closed", "The competition is closed; the final choice is locked.")
    if submission.status != Submission.Status.SCORED or submission.is_baseline:
        raise Refused("not_scored", "Only a scored submission can be chosen.")
    if submission.hidden or submission.disqualified:
        state = "disqualified" if submission.disqualified else "hidden"
        raise Refused("not_eligible", f"This submission was {state} by an instructor.")
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


_FLAG_ACTIONS = {("hidden", True): "hide", ("hidden", False): "unhide"} | {
    ("disqualified", True): "disqualify",
    ("disqualified", False): "requalify",
}


def submission_set_flags(
    *,
    submission: Submission,
    hidden: bool | None = None,
    disqualified: bool | None = None,
    actor: Actor = None,
    reason: str = "",
) -> None:
    """Hide or disqualify (with the reason the entrant is shown), or undo it. A flagged final
    choice stays recorded but no longer counts: the standings take the entrant's best other."""
    text_checked(reason=reason)
    fields: dict[str, Any] = {}
    if hidden is not None:
        fields["hidden"] = hidden
    if disqualified is not None:
        fields["disqualified"] = disqualified
    if hidden or disqualified:
        fields["flag_reason"] = reason.strip()[:300]
    elif not fields.get("hidden", submission.hidden) and not fields.get(
        "disqualified", submission.disqualified
    ):
        fields["flag_reason"] = ""  # no flag left, no reason to show
    if fields:
        with transaction.atomic():
            Submission.objects.filter(pk=submission.pk).update(**fields)
            standing_refresh_for(submission=submission)
            for flag in ("hidden", "disqualified"):
                if flag not in fields:
                    continue
                action = _FLAG_ACTIONS[(flag, fields[flag])]
                entry = audit_record(
                    actor=actor, action=action, submission=submission, reason=reason
                )
                if action in ("disqualify", "hide"):
                    notify_flag(
                        submission=submission, action=action, reason=reason, entry_id=entry.pk
                    )


def competition_close(*, competition: Competition, actor: Actor = None, reason: str = "") -> None:
    """Close now, before `closes_at`: private scores are revealed. Undone by competition_reopen
    or by moving `closes_at` into the future (competitions.services.competitions)."""
    with transaction.atomic():
        Competition.objects.filter(pk=competition.pk).update(closed=True, closed_at=timezone.now())
        audit_record(actor=actor, action="close", competition=competition, reason=reason)
        transaction.on_commit(deadlines_send)  # final standings go out now, not at the next pass
        if (
            competition.course_id
            and LtiContext.objects.filter(course_id=competition.course_id).exists()
        ):
            # An LMS's course: its line items get the final grades once the close committed.
            pk = competition.pk
            transaction.on_commit(lambda: lti_grades_send(competition_id=pk))


def competition_reopen(*, competition: Competition, actor: Actor = None, reason: str = "") -> None:
    """Undo an early close; a competition past its `closes_at` needs a later one first."""
    if timezone.now() >= competition.closes_at:
        raise Refused(
            "closes_in_past",
            f"It closed at {timezone.localtime(competition.closes_at):%Y-%m-%d %H:%M %Z}: "
            "edit the competition and set a later close time to reopen it.",
        )
    with transaction.atomic():
        Competition.objects.filter(pk=competition.pk).update(closed=False, closed_at=None)
        audit_record(actor=actor, action="reopen", competition=competition, reason=reason)
