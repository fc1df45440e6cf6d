"""API tokens page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render

from competitions.services.tokens import token_create, token_revoke
from competitions.views.http import AuthedRequest


@login_required
def tokens(request: AuthedRequest) -> HttpResponse:
    new_key = None
    if request.method == "POST":
        if "revoke" in request.POST:
            token_revoke(user=request.user, token_id=int(request.POST["revoke"]))
            messages.success(request, "Token revoked.")
            return redirect("competitions:tokens")
        _, new_key = token_create(user=request.user, name=request.POST.get("name", ""))
    return render(
        request,
        "competitions/tokens.html",
        {"tokens": request.user.api_tokens.order_by("-created_at"), "new_key": new_key},
    )
