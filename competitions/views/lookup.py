"""Selectors raise the domain's NotFound; pages answer it with Django's 404."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse

from competitions.errors import NotFound
from competitions.models import Competition
from competitions.selectors import access


def or_404[T](select: Callable[..., T], **kwargs: Any) -> T:
    """`select(**kwargs)`, with NotFound turned into Http404 (same message)."""
    try:
        return select(**kwargs)
    except NotFound as e:
        raise Http404(str(e)) from None


def competition_or_login(request: HttpRequest, slug: str) -> Competition | HttpResponse:
    """The competition `request.user` may see; a logged-out visitor on one they may not see
    (a course-only link) is sent to the login page and back here, the same for a slug that does
    not exist, so the redirect reveals nothing. Logged in, it is the usual 404."""
    try:
        return access.competition_get_visible(user=request.user, slug=slug)
    except NotFound as e:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        raise Http404(str(e)) from None
