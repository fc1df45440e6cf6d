"""The instructor's exceptions page for a competition: who has one, and granting one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.shortcuts import redirect, render

from competitions.errors import ServiceError
from competitions.forms import ExtensionForm
from competitions.models import Extension
from competitions.selectors import access
from competitions.services.exceptions import extension_grant
from competitions.views.http import AuthedRequest
from competitions.views.lookup import or_404


@login_required
def competition_exceptions(request: AuthedRequest, slug: str) -> HttpResponse:
    competition = or_404(access.competition_get_for_instructor, user=request.user, slug=slug)
    form = ExtensionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        student = User.objects.filter(username=data["username"].strip()).first()
        if student is None or not access.competition_can_submit(
            user=student, competition=competition
        ):
            form.add_error("username", "No student of this competition has this username.")
        else:
            try:
                extension_grant(
                    competition=competition,
                    user=student,
                    actor=request.user,
                    reason=data["reason"],
                    closes_at=data["closes_at"],
                    extra_daily=data["extra_daily"] or 0,
                    extra_total=data["extra_total"] or 0,
                )
            except ServiceError as e:
                form.add_error(None, e.message)
            else:
                messages.success(request, f"Exception granted to {student.username}.")
                return redirect("competitions:exceptions", slug=slug)
    granted = (
        Extension.objects.filter(competition=competition)
        .select_related("user", "team", "granted_by")
        .order_by("-granted_at")
    )
    return render(
        request,
        "competitions/instructor/exceptions.html",
        {"competition": competition, "form": form, "granted": granted},
    )
