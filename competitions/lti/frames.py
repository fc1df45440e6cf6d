"""Podium inside the LMS's iframe: frame-ancestors limited to the registered platforms.

Everywhere else X_FRAME_OPTIONS = DENY holds. The launch steps may be framed by any registered
platform; after a launch, the session remembers the launching platform's origins and the pages
it opens may be framed by those only (the student browses Podium inside the LMS).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse

from competitions.lti.models import LtiPlatform

SESSION_KEY = "lti_frame_origins"
# The steps an LMS frames before anyone is signed in; the instructor's /lti/teach/ pages are not
# among them (a platform an instructor registered must not frame another's buttons).
_PROTOCOL_VIEWS = frozenset({"lti:login", "lti:launch", "lti:deep_link"})


def platform_origins(platform: LtiPlatform) -> list[str]:
    found = [*platform.frame_origins, platform.issuer, platform.auth_url]
    origins = []
    for url in found:
        parts = urlsplit(str(url))
        if parts.scheme in ("http", "https") and parts.netloc:
            origin = f"{parts.scheme}://{parts.netloc}"
            if origin not in origins:
                origins.append(origin)
    return origins


def _all_origins() -> list[str]:
    return sorted({o for p in LtiPlatform.objects.all() for o in platform_origins(p)})


class LtiFrameMiddleware:
    """Listed before XFrameOptionsMiddleware, so it sees (and replaces) the DENY it adds."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        origins: list[str] | None = None
        match = getattr(request, "resolver_match", None)
        if match is not None and match.view_name in _PROTOCOL_VIEWS:
            origins = _all_origins()
        elif hasattr(request, "session"):
            origins = request.session.get(SESSION_KEY)
        if origins:
            del response["X-Frame-Options"]
            response["Content-Security-Policy"] = "frame-ancestors 'self' " + " ".join(origins)
        return response
