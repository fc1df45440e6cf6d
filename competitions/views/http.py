"""Request types for views behind a login (django-stubs types `request.user` as maybe anonymous)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest


class AuthedRequest(HttpRequest):
    """A request that `login_required` (or the API's token check) has let through."""

    user: User
