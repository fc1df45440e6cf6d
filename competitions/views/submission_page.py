"""The submission page's template context (scores, per-class table, confusion heat map)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from competitions.models import Submission
from competitions.selectors import access
from competitions.selectors.access import AnyUser
from competitions.selectors.audit import audit_for_submission
from competitions.selectors.queue import queue_place
from competitions.selectors.quota import quota_get
from competitions.selectors.submissions import submission_counted, submission_push_state
from competitions.services.teams import team_for_user
from grader.corruptions import CORRUPTIONS


def _confusion_rows(confusion: list[list[int]] | None, classes: list[str]) -> list[dict[str, Any]]:
    """Rows for the heat-map table: shade = share of the true class's images; any error is tinted
    clearly (at least 0.25, and four times its share), so a few confusions stand out."""
    rows = []
    for i, row in enumerate(confusion or []):
        total = max(sum(row), 1)
        cells = [
            {
                "n": n,
                "alpha": round(
                    n / total if i == j else (min(1.0, 0.25 + 4 * n / total) if n else 0), 3
                ),
                "diag": i == j,
            }
            for j, n in enumerate(row)
        ]
        rows.append({"name": classes[i] if i < len(classes) else str(i), "cells": cells})
    return rows


def _resubmit_offer(*, sub: Submission, user: AnyUser, flagged: bool) -> dict[str, Any] | None:
    """The diagnosis' preset and the submissions left, when its entrant can resubmit now."""
    preset = (sub.result or {}).get("suggested_preprocess")
    competition = sub.competition
    if not preset or sub.is_baseline or flagged or not user.is_authenticated:
        return None
    team = team_for_user(competition=competition, user=user)
    mine = sub.user_id == user.pk and sub.team_id is None
    if not (mine or (team is not None and sub.team_id == team.pk)):
        return None
    now = timezone.now()
    quota = quota_get(competition=competition, user=user, team=team, now=now)
    blocked = quota.blocked(now) or (
        None if competition.accepts_submissions(now) else "Submissions are not accepted now."
    )
    return {"preset": preset, "left": quota.daily_left, "blocked": blocked}


def _robust_rows(sub: Submission, *, private: bool) -> list[tuple[str, float]]:
    """Per-corruption accuracies in the corruptions' own order (PostgreSQL's jsonb does not keep
    a dict's key order)."""
    split = (sub.robust_scores or {}).get("private" if private else "public") or {}
    per = split.get("per_corruption") or {}
    return [(name, per[name]) for name in CORRUPTIONS if name in per]


def submission_context(*, sub: Submission, user: AnyUser) -> dict[str, Any]:
    """Template context for a submission: private scores only after close (or for staff)."""
    competition = sub.competition
    instructor = access.competition_is_instructor(user=user, competition=competition)
    finished = competition.is_finished()
    show_private = access.submission_shows_private(user=user, submission=sub)
    scores = sub.public_scores or {}
    classes = competition.dataset.classes
    per_class = [
        {"name": classes[i] if i < len(classes) else str(i), "acc": acc}
        for i, acc in enumerate(scores.get("per_class_accuracy") or [])
    ]
    result = sub.result or {}
    flagged = sub.hidden or sub.disqualified
    counted = None
    if flagged and sub.is_final and not sub.is_baseline:
        # The entrant chose it, the standings use another one: say which.
        counted = submission_counted(competition=competition, user=sub.user, team=sub.team)
    return {
        "resubmit": _resubmit_offer(sub=sub, user=user, flagged=flagged),
        "sub": sub,
        "push_state": submission_push_state(
            status=sub.status, attempts=sub.attempts, progress=sub.progress
        ),
        "competition": competition,
        "is_instructor": instructor,
        "show_private": show_private,
        "public_scores": scores,
        "private_scores": (sub.private_scores or {}) if show_private else {},
        "per_class": per_class,
        "reliability": scores.get("reliability") or [],
        "robust": ((sub.robust_scores or {}).get("private" if show_private else "public")),
        "robust_rows": _robust_rows(sub, private=show_private),
        "robust_split": "private" if show_private else "public",
        "confusion": _confusion_rows(scores.get("confusion"), classes),
        "classes": classes,
        "result": result,
        "summary": result.get("summary") or [],
        "adaptation": result.get("adaptation") or [],
        "diagnosis": result.get("diagnosis"),
        "progress_pct": int(round(sub.progress * 100)),
        "flagged": flagged,
        "counted": counted,
        "place": queue_place(submission=sub),
        "can_choose": (
            sub.status == Submission.Status.SCORED
            and not sub.is_baseline
            and not flagged
            and not finished
            and (sub.user_id == user.pk or sub.team_id is not None)
        ),
        "gallery": sub.predictions is not None and (instructor or finished),
        "staff_actions": audit_for_submission(submission=sub),
    }
