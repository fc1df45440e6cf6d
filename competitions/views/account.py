"""API tokens page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render

from competitions.errors import ServiceError
from competitions.services.tokens import token_create, token_revoke
from competitions.views.http import AuthedRequest

_MAX_ID = 2**63 - 1  # the largest primary key any of our databases stores


def _token_id(text: str) -> int | None:
    """The token id a revoke button sends (a positive integer), or None for anything else."""
    text = text.strip()  # the length check spares int() a huge string (it refuses > 4300 digits)
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(_MAX_ID)):
        return None
    value = int(text)
    return value if 0 < value <= _MAX_ID else None


@login_required
def tokens(request: AuthedRequest) -> HttpResponse:
    new_key = None
    if request.method == "POST":
        if "revoke" in request.POST:
            token_id = _token_id(request.POST["revoke"])
            # Someone else's token reads the same as none: nothing revoked, nothing revealed.
            if token_id is not None and token_revoke(user=request.user, token_id=token_id):
                messages.success(request, "Token revoked.")
            else:
                messages.error(request, "No such token of yours: nothing was revoked.")
            return redirect("competitions:tokens")
        try:
            _, new_key = token_create(user=request.user, name=request.POST.get("name", ""))
        except ServiceError as e:
            messages.error(request, f"Refused: {e.message}")
    return render(
        request,
        "competitions/tokens.html",
        {"tokens": request.user.api_tokens.order_by("-created_at"), "new_key": new_key},
    )
