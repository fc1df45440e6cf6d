"""The REST API's schemas (django-ninja) and how a competition and a submission are shown in
them; the endpoints are in competitions/api.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Schema

from competitions.models import Submission
from competitions.selectors import access
from competitions.selectors.queue import QueuePlace, queue_places


class Error(Schema):
    code: str
    message: str


class TokenIn(Schema):
    username: str
    password: str
    name: str = "api"


class TokenOut(Schema):
    token: str


class CompetitionOut(Schema):
    slug: str
    title: str
    description: str  # Markdown, as written
    rules: str  # Markdown, as written
    opens_at: dt.datetime
    closes_at: dt.datetime
    finished: bool
    accepts_submissions: bool
    allowed_formats: list[str]
    daily_limit: int
    total_limit: int
    n_images: int
    image_shape: list[int]
    classes: list[str]


class SubmissionOut(Schema):
    id: str
    competition: str
    status: str
    progress: float
    created_at: dt.datetime
    finished_at: dt.datetime | None
    original_name: str
    public_score: float | None
    private_score: float | None
    params: int | None
    macs: int | None
    error_code: str
    error_message: str
    diagnosis: str | None
    adaptation: list[str]
    url: str
    queue_position: int | None
    eta_s: float | None


class RowOut(Schema):
    rank: int
    name: str
    score: float
    params: int | None
    macs: int | None
    file_bytes: int
    entries: int
    last_submission: dt.datetime
    is_baseline: bool
    is_team: bool
    score_ci: list[float] | None
    tied_with_previous: bool
    rank_change: int | None
    score_change: float | None
    robust_accuracy: float | None


class LeaderboardOut(Schema):
    competition: str
    split: str
    total: int
    offset: int
    limit: int
    rows: list[RowOut]


def competition_out(c: Any) -> dict[str, Any]:
    ds = c.dataset
    return {
        "slug": c.slug,
        "title": c.title,
        "description": c.description,
        "rules": c.rules,
        "opens_at": c.opens_at,
        "closes_at": c.closes_at,
        "finished": c.is_finished(),
        "accepts_submissions": c.accepts_submissions(),
        "allowed_formats": c.allowed_formats,
        "daily_limit": c.daily_limit,
        "total_limit": c.total_limit,
        "n_images": ds.n_images,
        "image_shape": ds.image_shape,
        "classes": ds.classes,
    }


def submission_out(
    request: HttpRequest, s: Submission, places: dict[Any, QueuePlace] | None = None
) -> dict[str, Any]:
    show_private = access.submission_shows_private(user=request.user, submission=s)
    result = s.result or {}
    place = (places if places is not None else queue_places(submissions=[s])).get(s.pk)
    return {
        "id": str(s.pk),
        "competition": s.competition.slug,
        "status": s.status,
        "progress": s.progress,
        "created_at": s.created_at,
        "finished_at": s.finished_at,
        "original_name": s.original_name,
        "public_score": s.public_score,
        "private_score": s.private_score if show_private else None,
        "params": s.params,
        "macs": s.macs,
        "error_code": s.error_code,
        "error_message": s.error_message,
        "diagnosis": result.get("diagnosis"),
        "adaptation": result.get("adaptation") or [],
        "url": request.build_absolute_uri(f"/s/{s.pk}/"),
        "queue_position": place.position if place else None,
        "eta_s": place.eta_s if place else None,
    }


class QuotaOut(Schema):
    daily_used: int
    daily_limit: int
    daily_left: int
    total_used: int
    total_limit: int
    total_left: int
    resets_at: dt.datetime
    blocked: str | None
    rule: str
