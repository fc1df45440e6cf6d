"""Login lockout (django-axes) and the client address that lockouts and API throttles key on.

config.settings names these functions (AXES_LOCKOUT_CALLABLE, AXES_CLIENT_IP_CALLABLE): a login
refused after too many failures answers 429 with when to try again, as a page on the site and as
the API's JSON error (`login_locked`) under /api/.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from ninja.throttling import BaseThrottle

from competitions.errors import error_body, error_code


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or X-Forwarded-For's entry added by the last of
    PODIUM_TRUSTED_PROXIES proxies (django-ninja's rule, NINJA_NUM_PROXIES, so lockouts and API
    throttles agree on who a client is)."""
    return BaseThrottle().get_ident(request)


def locked_until(request: HttpRequest, credentials: dict[str, Any] | None = None) -> dt.datetime:
    """When this username may log in again from this address: the cool-off after the last
    recorded failure (tries while locked are not recorded, so this does not move)."""
    cool_off = get_cool_off(request) or dt.timedelta(0)
    username = get_client_username(request, credentials)
    ip = getattr(request, "axes_ip_address", None) or client_ip(request)
    last = AccessAttempt.objects.filter(username=username, ip_address=ip).aggregate(
        last=Max("attempt_time")
    )["last"]
    return (last or timezone.now()) + cool_off


def _locked_message(until: dt.datetime, seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    at = timezone.localtime(until).strftime("%H:%M %Z")
    return (
        "Too many failed logins for this username from your address: logging in is locked. "
        f"Try again after {at} (in about {minutes} minute{'s' if minutes != 1 else ''})."
    )


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(reverse("api:api-root"))


def api_locked_response(
    request: HttpRequest, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """429 `login_locked` in the API's error shape, with Retry-After in seconds."""
    until = locked_until(request, credentials)
    seconds = max(1, math.ceil((until - timezone.now()).total_seconds()))
    response = JsonResponse(
        error_body("login_locked", _locked_message(until, seconds)) | {"retry_after": seconds},
        status=error_code("login_locked").status,
    )
    response["Retry-After"] = str(seconds)
    return response


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: what a refused login answers (axes' middleware calls it)."""
    if _is_api(request):
        return api_locked_response(request, credentials)
    until = locked_until(request, credentials)
    seconds = max(1, math.ceil((until - timezone.now()).total_seconds()))
    response = render(
        request,
        "registration/locked_out.html",
        {"message": _locked_message(until, seconds), "until": until, "seconds": seconds},
        status=error_code("login_locked").status,
    )
    response["Retry-After"] = str(seconds)
    return response
