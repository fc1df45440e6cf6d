"""Reads about submissions: lists and what a submission page may show to whom."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from competitions.models import Competition, Submission, Team
from competitions.selectors.access import competition_is_instructor


def submission_list_for_entrant(
    *, competition: Competition, user: AbstractBaseUser, team: Team | None
) -> QuerySet[Submission]:
    qs = Submission.objects.filter(competition=competition, is_baseline=False).select_related(
        "user"
    )
    qs = qs.filter(team=team) if team is not None else qs.filter(user=user, team__isnull=True)
    return qs.defer("predictions", "result", "log", "public_scores", "private_scores")


def submission_list_for_competition(*, competition: Competition) -> QuerySet[Submission]:
    return (
        Submission.objects.filter(competition=competition)
        .select_related("user", "team")
        .defer("predictions", "result", "public_scores", "private_scores")
    )


def _confusion_rows(confusion: list[list[int]] | None, classes: list[str]) -> list[dict[str, Any]]:
    """Rows for the heat-map table: shade = share of the true class's images."""
    rows = []
    for i, row in enumerate(confusion or []):
        total = max(sum(row), 1)
        cells = [{"n": n, "alpha": round(n / total, 3), "diag": i == j} for j, n in enumerate(row)]
        rows.append({"name": classes[i] if i < len(classes) else str(i), "cells": cells})
    return rows


def submission_view(*, sub: Submission, user: AbstractBaseUser) -> dict[str, Any]:
    """Template context for a submission: private scores only after close (or for staff)."""
    competition = sub.competition
    instructor = competition_is_instructor(user=user, competition=competition)
    finished = competition.is_finished()
    show_private = finished or instructor
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
        "confusion": _confusion_rows(scores.get("confusion"), classes),
        "classes": classes,
        "result": result,
        "summary": result.get("summary") or [],
        "adaptation": result.get("adaptation") or [],
        "diagnosis": result.get("diagnosis"),
        "progress_pct": int(round(sub.progress * 100)),
        "can_choose": (
            sub.status == Submission.Status.SCORED
            and not sub.is_baseline
            and not finished
            and (sub.user_id == user.pk or sub.team_id is not None)
        ),
        "gallery": sub.predictions is not None and (instructor or finished),
    }
