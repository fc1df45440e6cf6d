"""Creating and editing competitions, and what an edit does to the submissions already made.

Editing the split (`public_fraction`, `split_seed`) once submissions are scored recomputes both
split scores of each from its stored per-image predictions and rebuilds the standings, in the
request's transaction and without running any model. Changing the dataset queues every submission
to be graded again (the existing rescore). Both are refused while a submission is being graded:
that worker scores against the settings it read when it started.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from competitions.dataset_cache import dataset_load
from competitions.errors import Refused
from competitions.models import Competition, Submission
from competitions.services.audit import audit_record
from competitions.services.exceptions import competition_deadline_refresh
from competitions.services.locks import lock_competition, lock_submissions_queued
from competitions.services.standings import standings_rebuild
from competitions.services.submissions import competition_rescore_all, submission_requeue
from competitions.significance import bootstrap_ci, correct_pack
from competitions.splits import split_indices
from grader.metrics import compute_scores

SPLIT_FIELDS = ("public_fraction", "split_seed")


@dataclass(frozen=True)
class CompetitionChange:
    """What an edit did besides saving: submissions queued again, split scores recomputed."""

    requeued: int = 0
    split_rescored: int = 0
    reopened: bool = False


def _course_check(*, user: User, competition: Competition) -> None:
    # Staff may run a competition outside any course (public ones); instructors only in theirs.
    if not user.is_staff and competition.course_id is None:
        raise Refused("course_required", "Choose one of your courses.")


def _apply(competition: Competition, values: dict[str, Any]) -> None:
    editable = {f.name for f in Competition._meta.concrete_fields if not f.primary_key}
    unknown = set(values) - editable
    if unknown:
        raise TypeError(f"not competition fields: {sorted(unknown)}")
    for name, value in values.items():
        setattr(competition, name, value)


def competition_create(*, user: User, values: dict[str, Any]) -> Competition:
    """A new competition from field values (a validated form's cleaned_data), made by `user`."""
    competition = Competition(created_by=user if user.is_authenticated else None)
    _apply(competition, values)
    _course_check(user=user, competition=competition)
    competition.save()
    competition_deadline_refresh(competition=competition)
    return competition


def competition_update(
    *, competition: Competition, user: User, values: dict[str, Any]
) -> CompetitionChange:
    """Save `values` onto `competition`; a changed dataset queues every submission again, a
    changed split recomputes the split scores from the stored predictions (see the module)."""
    with transaction.atomic():
        # Lock order (services/locks.py): submissions, then the competition. With the queued
        # ones locked, no worker starts grading one against the settings being replaced.
        lock_submissions_queued(competition_id=competition.pk)
        lock_competition(competition_id=competition.pk)
        before = Competition.objects.get(pk=competition.pk)
        _apply(competition, values)
        _course_check(user=user, competition=competition)
        # The corrupted copies are graded with the model: turning the track on grades again.
        dataset_changed = competition.dataset_id != before.dataset_id or (
            competition.robustness and not before.robustness
        )
        split_changed = any(getattr(competition, f) != getattr(before, f) for f in SPLIT_FIELDS)
        if dataset_changed or split_changed:
            _refuse_while_grading(competition)
        # A close time moved into the future undoes an early close: the date is what people see.
        reopened = (
            before.closed
            and competition.closes_at != before.closes_at
            and competition.closes_at > timezone.now()
        )
        if reopened:
            competition.closed, competition.closed_at = False, None
        competition.save()
        competition_deadline_refresh(competition=competition)
        changes = _changes(before, competition, values)
        if changes:
            audit_record(actor=user, action="edit", competition=competition, details=changes)
        if reopened:
            audit_record(
                actor=user,
                action="reopen",
                competition=competition,
                reason="close time moved later",
            )
        if dataset_changed:
            requeued = competition_rescore_all(
                competition=competition, actor=user, reason="dataset changed"
            )
            return CompetitionChange(requeued=requeued, reopened=reopened)
        if split_changed:
            return replace(_split_rescore(competition), reopened=reopened)
    return CompetitionChange(reopened=reopened)


def _changes(before: Competition, after: Competition, values: dict[str, Any]) -> dict[str, Any]:
    """{field: [before, after]} for every field the edit changed, as text (dates, ids)."""
    out: dict[str, Any] = {}
    for name in values:
        field = "dataset_id" if name == "dataset" else "course_id" if name == "course" else name
        old, new = getattr(before, field, None), getattr(after, field, None)
        if old != new:
            out[name] = [None if old is None else str(old), None if new is None else str(new)]
    return out


def _refuse_while_grading(competition: Competition) -> None:
    running = Submission.objects.filter(
        competition=competition, status=Submission.Status.RUNNING
    ).count()
    if running:
        raise Refused(
            "grading_in_progress",
            f"{running} submission(s) are being graded with the current dataset and split; "
            "change them once grading has finished.",
        )


def split_scores_from_predictions(
    *, competition: Competition, labels: np.ndarray, predictions: np.ndarray, n_classes: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both split scores of stored predictions, each with its bootstrap interval (`score_ci`).
    Probabilities are not stored, so `log_loss` and `ece` are None in the result (accuracy, the competitions' metric, is exact)."""
    public, private = split_indices(
        len(labels), competition.public_fraction, competition.split_seed
    )
    preds = np.asarray(predictions, dtype=np.int64)
    scores = []
    for idx in (public, private):
        split = compute_scores(labels[idx], preds[idx], None, n_classes=n_classes)
        split["score_ci"] = bootstrap_ci(labels[idx] == preds[idx])
        scores.append(split)
    return scores[0], scores[1]


def _split_rescore(competition: Competition) -> CompetitionChange:
    scored = Submission.objects.filter(competition=competition, status=Submission.Status.SCORED)
    if not scored.exists():
        return CompetitionChange()
    if competition.robustness:  # the corrupted subsets depend on the seed: grade again
        return CompetitionChange(requeued=competition_rescore_all(competition=competition))
    dataset = dataset_load(record=competition.dataset)
    n_classes, metric = len(dataset.classes), competition.metric
    rescored = requeued = 0
    for sub in scored.only(
        "pk", "predictions", "competition_id", "user_id", "team_id", "is_baseline"
    ):
        if sub.predictions is None or len(sub.predictions) != 2 * len(dataset.labels):
            requeued += submission_requeue(submission=sub)  # nothing to recompute from
            continue
        predictions = np.frombuffer(bytes(sub.predictions), dtype=np.int16)
        public, private = split_scores_from_predictions(
            competition=competition,
            labels=dataset.labels,
            predictions=predictions,
            n_classes=n_classes,
        )
        rescored += Submission.objects.filter(pk=sub.pk).update(
            public_score=public[metric],
            private_score=private[metric],
            public_scores=public,
            private_scores=private,
            public_ci=public["score_ci"],
            private_ci=private["score_ci"],
            correct=correct_pack(predictions == dataset.labels),
        )
    standings_rebuild(competition=competition)
    return CompetitionChange(requeued=requeued, split_rescored=rescored)
