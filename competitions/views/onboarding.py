"""Onboarding pages: an invitation link sets a first password; instructors resend invitations."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from competitions.errors import ServiceError
from competitions.models import Course
from competitions.selectors import access
from competitions.selectors.onboarding import invitation_find
from competitions.services.invitations import invitation_accept, invitation_resend
from competitions.views.http import AuthedRequest


def invitation(request: HttpRequest, token: str) -> HttpResponse:
    try:
        inv = invitation_find(token=token)
    except ServiceError as e:
        return render(request, "registration/invitation.html", {"problem": e.message}, status=410)
    form = SetPasswordForm(inv.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = invitation_accept(token=token, password=form.cleaned_data["new_password1"])
        except ServiceError as e:  # used by a concurrent request a moment ago
            return render(
                request, "registration/invitation.html", {"problem": e.message}, status=410
            )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.username}: your password is set.")
        return redirect("competitions:home")
    return render(request, "registration/invitation.html", {"form": form, "invitation": inv})


@login_required
@require_POST
def roster_resend(request: AuthedRequest, slug: str, user_id: int) -> HttpResponse:
    course = get_object_or_404(Course, slug=slug)
    if not access.course_is_instructor(user=request.user, course=course):
        raise Http404("No such course")
    member = get_object_or_404(User, pk=user_id, memberships__course=course)
    try:
        sent = invitation_resend(
            course=course,
            user=member,
            site=request.build_absolute_uri("/"),
            actor=request.user,
        )
    except ServiceError as e:
        messages.error(request, e.message)
    else:
        if sent.sent:
            messages.success(request, f"A new invitation went to {member.email}.")
        else:
            inv = member.invitations.order_by("-created_at").first()
            why = inv.send_error if inv else "no e-mail address"
            messages.error(request, f"The invitation to {member.username} was not sent: {why}")
    return redirect("competitions:roster", slug=course.slug)
