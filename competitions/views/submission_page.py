"""The submission page's template context (scores, per-class table, confusion heat map)."""

from __future__ import annotations

from typing import Any

from competitions.models import Submission
from competitions.selectors import access
from competitions.selectors.access import AnyUser
from competitions.selectors.queue import queue_place


def _confusion_rows(confusion: list[list[int]] | None, classes: list[str]) -> list[dict[str, Any]]:
    """Rows for the heat-map table: shade = share of the true class's images."""
    rows = []
    for i, row in enumerate(confusion or []):
        total = max(sum(row), 1)
        cells = [{"n": n, "alpha": round(n / total, 3), "diag": i == j} for j, n in enumerate(row)]
        rows.append({"name": classes[i] if i < len(classes) else str(i), "cells": cells})
    return rows


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
    return {
        "sub": sub,
        "competition": competition,
        "is_instructor": instructor,
        "show_private": show_private,
        "public_scores": scores,
        "private_scores": (sub.private_scores or {}) if show_private else {},
        "per_class": per_class,
        "reliability": scores.get("reliability") or [],
        "robust": ((sub.robust_scores or {}).get("private" if show_private else "public")),
        "robust_split": "private" if show_private else "public",
        "confusion": _confusion_rows(scores.get("confusion"), classes),
        "classes": classes,
        "result": result,
        "summary": result.get("summary") or [],
        "adaptation": result.get("adaptation") or [],
        "diagnosis": result.get("diagnosis"),
        "progress_pct": int(round(sub.progress * 100)),
        "place": queue_place(submission=sub),
        "can_choose": (
            sub.status == Submission.Status.SCORED
            and not sub.is_baseline
            and not finished
            and (sub.user_id == user.pk or sub.team_id is not None)
        ),
        "gallery": sub.predictions is not None and (instructor or finished),
    }
