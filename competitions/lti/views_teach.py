"""The instructor's LMS pages: grade passback status and "send now", roster sync (NRPS)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from competitions.errors import ServiceError
from competitions.grade_policy import policy_describe
from competitions.lti.forms import PlatformForm
from competitions.lti.platforms import platform_add
from competitions.lti.roster import lti_roster_sync
from competitions.lti.selectors import (
    lti_contexts_for_course,
    lti_grade_posts,
    lti_platforms_registered_by,
)
from competitions.models import Course
from competitions.selectors import access
from competitions.services.dispatch import lti_grades_send
from competitions.views.http import AuthedRequest
from competitions.views.lookup import or_404


@login_required
def grades(request: AuthedRequest, slug: str) -> HttpResponse:
    competition = or_404(access.competition_get_for_instructor, user=request.user, slug=slug)
    if request.method == "POST":
        lti_grades_send(competition_id=competition.pk, actor_id=request.user.pk)
        messages.success(request, "Grades are being sent to the LMS; reload to see the result.")
        return redirect("lti:grades", slug=slug)
    posts = lti_grade_posts(competition=competition)
    return render(
        request,
        "competitions/lti/grades.html",
        {
            "competition": competition,
            "posts": posts,
            "failed": sum(1 for p in posts if p.error),
            "policy": policy_describe(competition.grade_policy),
            "contexts": lti_contexts_for_course(course=competition.course)
            if competition.course
            else [],
        },
    )


@login_required
@require_POST
def roster_sync(request: AuthedRequest, slug: str) -> HttpResponse:
    course = get_object_or_404(Course, slug=slug)
    if not access.course_is_instructor(user=request.user, course=course):
        raise Http404("No such course")
    report = lti_roster_sync(course=course, actor=request.user)
    if report.errors:
        messages.error(request, f"{report.errors} LMS roster(s) could not be read (see below).")
    messages.success(
        request,
        f"LMS roster: {report.members} members, {report.added} newly enrolled.",
    )
    return redirect("competitions:roster", slug=slug)


@login_required
def platforms(request: AuthedRequest) -> HttpResponse:
    """Register an LMS (the command's fields), with the URLs the LMS asks for in return."""
    if not access.course_list_taught(user=request.user).exists():
        raise Http404("No such page")
    form = PlatformForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            deployment = platform_add(
                issuer=d["issuer"],
                client_id=d["client_id"],
                deployment_id=d["deployment_id"],
                auth_url=d["auth_url"],
                token_url=d["token_url"],
                jwks_url=d["jwks_url"],
                course_slug=d["course"] or None,
                frame_origins=d["frame_origins"].split(),
                by=request.user,
            )
        except ServiceError as e:
            form.add_error(None, e.message)
        else:
            messages.success(request, f"Registered {deployment.platform}.")
            return redirect("lti:platforms")
    tool = {
        name: request.build_absolute_uri(reverse(f"lti:{name}"))
        for name in ("login", "launch", "jwks")
    }
    return render(
        request,
        "competitions/lti/platforms.html",
        {
            "form": form,
            "tool": tool,
            "home": request.build_absolute_uri("/"),
            "platforms": lti_platforms_registered_by(user=request.user),
        },
    )
