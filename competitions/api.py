"""REST API (django-ninja). Schema: /api/openapi.json, docs: /api/docs.

Authentication: `Authorization: Bearer <token>` with a per-user token (web page "API tokens",
or POST /api/tokens with username and password).
"""

from __future__ import annotations

import logging
from typing import Any, cast

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import AnonymousUser, User
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import File, Form, NinjaAPI, Status
from ninja import errors as ninja_errors
from ninja.files import UploadedFile
from ninja.security import HttpBearer
from ninja.throttling import AnonRateThrottle

from competitions.api_schemas import (
    CompetitionOut,
    Error,
    LeaderboardOut,
    QuotaOut,
    SubmissionOut,
    TokenIn,
    TokenOut,
    competition_out,
    submission_out,
)
from competitions.errors import NotFound, ServiceError, error_body, error_code
from competitions.lockout import api_locked_response
from competitions.selectors import access
from competitions.selectors.leaderboard import leaderboard_get
from competitions.selectors.queue import queue_places
from competitions.selectors.quota import QUOTA_RULE, quota_get
from competitions.selectors.submissions import submission_list_for_entrant, submission_list_mine
from competitions.services.submissions import submission_create
from competitions.services.teams import team_for_user
from competitions.services.tokens import token_authenticate, token_create
from competitions.text import text_checked

logger = logging.getLogger(__name__)
UPLOAD_FIELDS = frozenset({"preprocess", "mean", "std", "layout", "note"})


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = token_authenticate(key=token)
        if user is not None:
            request.user = user
        return user


class LoginThrottle(AnonRateThrottle):
    """Requests per client address (competitions.lockout.client_ip's rule) to the password
    endpoint, at PODIUM_API_LOGIN_RATE; the setting is read per request, not when this module is
    imported, so override_settings (the tests) applies to it."""

    scope = "api_login"

    def __init__(self) -> None:
        pass  # the rate is read in allow_request

    def allow_request(self, request: HttpRequest) -> bool:
        self.rate = settings.PODIUM_API_LOGIN_RATE
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request)


class PublicRead:
    """Lets a request without a token through, as an anonymous user: for reads of what a
    logged-out visitor sees on the site too (a public competition's leaderboard)."""

    def __call__(self, request: HttpRequest) -> Any:
        if request.headers.get("Authorization"):
            return None  # a token was sent: TokenAuth decides, a bad one stays 401
        request.user = AnonymousUser()
        return True


api = NinjaAPI(title="Podium API", version="1.0", urls_namespace="api", auth=TokenAuth())


# One JSON shape for every error the API answers: {"code": ..., "message": ...}, the code from
# competitions.errors (which also fixes its status), listed in docs/API.md.


def _error(request: HttpRequest, code: str, message: str | None = None, **extra: Any) -> Any:
    body = error_body(code, message) | extra
    return api.create_response(request, body, status=error_code(code).status)


@api.exception_handler(ServiceError)
def service_error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    return api.create_response(request, exc.to_dict(), status=exc.status)


@api.exception_handler(NotFound)
def not_found(request: HttpRequest, exc: NotFound) -> HttpResponse:
    return _error(request, "not_found", str(exc))


@api.exception_handler(Http404)
def http_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, "not_found", str(exc))


@api.exception_handler(ninja_errors.ValidationError)
def validation_error(request: HttpRequest, exc: ninja_errors.ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    message = f"{where}: {first.get('msg', 'invalid')}" if where else None
    return _error(request, "validation_error", message, errors=exc.errors)


@api.exception_handler(ninja_errors.AuthenticationError)
def unauthorized(request: HttpRequest, exc: ninja_errors.AuthenticationError) -> HttpResponse:
    return _error(request, "unauthorized")


@api.exception_handler(ninja_errors.Throttled)
def throttled(request: HttpRequest, exc: ninja_errors.Throttled) -> HttpResponse:
    response = _error(request, "throttled")
    if exc.wait:
        response["Retry-After"] = str(int(exc.wait))
    return response


@api.exception_handler(Exception)
def internal_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("API error on %s", request.path)
    return _error(request, "internal_error")


@api.post(
    "/tokens",
    auth=None,
    throttle=[LoginThrottle()],
    response={201: TokenOut, 400: Error, 401: Error, 409: Error, 429: Error},
)
def create_token(request: HttpRequest, payload: TokenIn) -> Any:
    """Throttled per address (`throttled`); failed passwords count towards the login lockout
    shared with the site (`login_locked`); at most PODIUM_MAX_TOKENS_PER_USER tokens a user
    (`too_many_tokens`)."""
    text_checked(username=payload.username, name=payload.name)
    user = authenticate(request, username=payload.username, password=payload.password)
    if user is None:
        if getattr(request, "axes_locked_out", False):
            return api_locked_response(request, {"username": payload.username})
        raise ServiceError("bad_credentials")
    _, key = token_create(user=user, name=payload.name)
    return Status(201, {"token": key})


@api.get("/competitions", response=list[CompetitionOut])
def list_competitions(request: HttpRequest) -> Any:
    return [competition_out(c) for c in access.competition_list_visible(user=request.user)]


@api.get("/competitions/{slug}", response={200: CompetitionOut, 404: Error})
def get_competition(request: HttpRequest, slug: str) -> Any:
    return competition_out(access.competition_get_visible(user=request.user, slug=slug))


@api.post(
    "/competitions/{slug}/submissions",
    response={
        201: SubmissionOut,
        400: Error,
        404: Error,
        413: Error,
        422: Error,
        429: Error,
        503: Error,
    },
)
def submit(
    request: HttpRequest,
    slug: str,
    *,
    file: UploadedFile = File(...),  # noqa: B008
    preprocess: str = Form(""),
    mean: str = Form(""),
    std: str = Form(""),
    layout: str = Form(""),
    note: str = Form(""),
) -> Any:
    """`layout`: one of the engine's layouts, or blank for automatic. Unknown fields are refused
    (422 `validation_error`), never ignored: a misspelt declaration would grade silently wrong."""
    unknown = sorted(set(request.POST) - UPLOAD_FIELDS) + sorted(set(request.FILES) - {"file"})
    if unknown:
        return _error(
            request,
            "validation_error",
            f"unknown field {', '.join(map(repr, unknown))}; the upload takes file, "
            f"{', '.join(sorted(UPLOAD_FIELDS))}",
            errors=[{"loc": ["form", k], "msg": "unknown field", "type": "extra"} for k in unknown],
        )
    competition = access.competition_get_visible(user=request.user, slug=slug)
    if not access.competition_can_submit(user=request.user, competition=competition):
        raise NotFound("No such competition")
    sub = submission_create(
        user=cast(User, request.user),  # TokenAuth put the token's user there
        competition=competition,
        upload=file,
        preprocess=preprocess,
        mean=mean,
        std=std,
        layout=layout,
        note=note,
    )
    return Status(201, submission_out(request, sub))


@api.get("/competitions/{slug}/submissions", response={200: list[SubmissionOut], 404: Error})
def list_my_submissions(request: HttpRequest, slug: str, limit: int = 20) -> Any:
    """The caller's own (or their team's) latest submissions, newest first (`limit` at most 100)."""
    user = cast(User, request.user)  # TokenAuth put the token's user there
    competition = access.competition_get_visible(user=user, slug=slug)
    team = team_for_user(competition=competition, user=user)
    subs = submission_list_for_entrant(competition=competition, user=user, team=team)
    latest = list(subs.order_by("-created_at")[: max(1, min(limit, 100))])
    places = queue_places(submissions=latest)
    return [submission_out(request, s, places) for s in latest]


@api.get("/submissions/{submission_id}", response={200: SubmissionOut, 404: Error})
def get_submission(request: HttpRequest, submission_id: str) -> Any:
    return submission_out(
        request, access.submission_get_visible(user=request.user, submission_id=submission_id)
    )


@api.get(
    "/competitions/{slug}/leaderboard",
    auth=[TokenAuth(), PublicRead()],
    response={200: LeaderboardOut, 401: Error, 404: Error},
)
def get_leaderboard(request: HttpRequest, slug: str, offset: int = 0, limit: int = 100) -> Any:
    """Ranked rows `offset` to `offset + limit` (limit at most 1000) of `total`. No token needed
    for a public competition (as its web page)."""
    competition = access.competition_get_visible(user=request.user, slug=slug)
    private = competition.is_finished()
    rows = leaderboard_get(competition=competition, private=private)
    offset, limit = max(offset, 0), min(max(limit, 1), 1000)
    return {
        "competition": slug,
        "split": "private" if private else "public",
        "total": len(rows),
        "offset": offset,
        "limit": limit,
        "rows": [r.to_dict() for r in rows[offset : offset + limit]],
    }


@api.get("/submissions", response=list[SubmissionOut])
def list_all_my_submissions(request: HttpRequest, limit: int = 20) -> Any:
    """The caller's own submissions (and their teams'), in every competition, newest first
    (`limit` at most 100)."""
    user = cast(User, request.user)  # TokenAuth put the token's user there
    latest = submission_list_mine(user=user).order_by("-created_at")[: max(1, min(limit, 100))]
    return [submission_out(request, s) for s in latest]


@api.get("/competitions/{slug}/quota", response={200: QuotaOut, 404: Error})
def get_quota(request: HttpRequest, slug: str) -> Any:
    """Submissions left to the caller (or their team) today and in total; `blocked` says why
    none is possible now, or is null."""
    user = cast(User, request.user)  # TokenAuth put the token's user there
    competition = access.competition_get_visible(user=user, slug=slug)
    now = timezone.now()
    team = team_for_user(competition=competition, user=user)
    q = quota_get(competition=competition, user=user, team=team, now=now)
    return {
        **{f: getattr(q, f) for f in ("daily_used", "daily_limit", "total_used", "total_limit")},
        **{"daily_left": q.daily_left, "total_left": q.total_left, "resets_at": q.resets_at},
        **{"blocked": q.blocked(now), "rule": QUOTA_RULE},
    }
