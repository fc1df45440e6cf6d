"""Student pages: home, courses, competition, submit, submissions, teams."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from competitions.dataset_cache import dataset_load, image_data_uri
from competitions.errors import ServiceError
from competitions.forms import JoinCourseForm, SubmitForm, TeamCreateForm, TeamJoinForm
from competitions.models import Competition
from competitions.selectors import access
from competitions.selectors.deadlines import entrant_window
from competitions.selectors.history import history_mine, history_top
from competitions.selectors.quota import QUOTA_RULE, quota_get
from competitions.selectors.starter_kit import starter_kit_zip
from competitions.selectors.submissions import submission_counted, submission_list_for_entrant
from competitions.services import courses, resubmit, submissions, teams
from competitions.views.http import AuthedRequest
from competitions.views.lookup import competition_or_login, or_404
from competitions.views.submission_page import submission_context


def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "competitions/home.html",
        {
            "competitions": access.competition_list_visible(user=request.user),
            "courses": access.course_list_for_user(user=request.user),
            "join_form": JoinCourseForm(),
        },
    )


@login_required
@require_POST
def course_join(request: AuthedRequest) -> HttpResponse:
    form = JoinCourseForm(request.POST)
    if form.is_valid():
        try:
            course = courses.course_join(user=request.user, code=form.cleaned_data["code"])
            messages.success(request, f"You joined {course.name}.")
        except ServiceError as e:
            messages.error(request, e.message)
    else:
        _errors_shown(request, form)
    return redirect("competitions:home")


def competition_detail(request: HttpRequest, slug: str) -> HttpResponse:
    competition = competition_or_login(request, slug)
    if isinstance(competition, HttpResponse):
        return competition
    form = SubmitForm(formats=competition.allowed_formats)
    return render(
        request, "competitions/competition_detail.html", _detail(request, competition, form)
    )


def _detail(request: HttpRequest, competition: Competition, form: SubmitForm) -> dict[str, Any]:
    """The competition page's context; `form` is a refused upload's, to show it again."""
    ctx: dict[str, Any] = {
        "competition": competition,
        "is_instructor": access.competition_is_instructor(
            user=request.user, competition=competition
        ),
        "can_submit": access.competition_can_submit(user=request.user, competition=competition),
        "form": form,
        "quota_rule": QUOTA_RULE,
        "max_upload_mb": settings.PODIUM_MAX_UPLOAD_MB,
    }
    if request.user.is_authenticated:
        user = cast(User, request.user)
        team = teams.team_for_user(competition=competition, user=user)
        now = timezone.now()
        quota = quota_get(competition=competition, user=user, team=team, now=now)
        ctx |= {
            "team": team,
            "team_members": team.memberships.select_related("user") if team else [],
            "quota": quota,
            "quota_blocked": quota.blocked(now),
            **entrant_window(competition=competition, user=user, team=team, now=now),
            "my_submissions": submission_list_for_entrant(
                competition=competition, user=user, team=team
            )[:50],
            "counted": submission_counted(competition=competition, user=user, team=team),
            "team_blockers": teams.team_blockers(competition=competition, user=user, team=team),
            "team_create_form": TeamCreateForm(),
            "team_join_form": TeamJoinForm(),
            "history_mine": history_mine(competition=competition, user=request.user, team=team),
        }
    ctx["history_top"] = history_top(competition=competition)
    return ctx


@login_required
@require_POST
def submit(request: AuthedRequest, slug: str) -> HttpResponse:
    competition = or_404(access.competition_get_visible, user=request.user, slug=slug)
    if not access.competition_can_submit(user=request.user, competition=competition):
        raise Http404("No such competition")
    form = SubmitForm(request.POST, request.FILES, formats=competition.allowed_formats)
    if form.is_valid():
        data = form.cleaned_data
        declared = data["declared"]
        try:
            sub = submissions.submission_create(
                user=request.user,
                competition=competition,
                upload=data["file"],
                preprocess=declared.preprocess,
                mean=declared.mean,
                std=declared.std,
                layout=declared.layout,
                note=data.get("note") or "",
            )
        except ServiceError as e:
            form.add_error("file" if e.code in FILE_CODES else None, f"Refused: {e.message}")
        else:
            return redirect("competitions:submission", pk=sub.pk)
    # Shown again with the choices kept (a browser never keeps a chosen file: the page says so).
    ctx = _detail(request, competition, form) | {"refused": True}
    response = render(request, "competitions/competition_detail.html", ctx, status=400)
    response["HX-Push-Url"] = "false"  # the boosted form (htmx): the address stays the page's
    return response


def starter_kit(request: HttpRequest, slug: str) -> HttpResponse:
    """The competition's starter kit (zip): whoever sees the competition may download it."""
    competition = competition_or_login(request, slug)
    if isinstance(competition, HttpResponse):
        return competition
    response = HttpResponse(
        starter_kit_zip(competition=competition), content_type="application/zip"
    )
    response["Content-Disposition"] = f'attachment; filename="{slug}-starter-kit.zip"'
    return response


@login_required
def submission_detail(request: AuthedRequest, pk: str) -> HttpResponse:
    sub = or_404(access.submission_get_visible, user=request.user, submission_id=pk)
    return render(
        request,
        "competitions/submission_detail.html",
        submission_context(sub=sub, user=request.user),
    )


@login_required
def submission_status(request: AuthedRequest, pk: str) -> HttpResponse:
    """The htmx fragment polled while the submission is queued or running."""
    sub = or_404(access.submission_get_visible, user=request.user, submission_id=pk)
    return render(
        request,
        "competitions/_submission_status.html",
        submission_context(sub=sub, user=request.user),
    )


@login_required
def submission_gallery(request: AuthedRequest, pk: str) -> HttpResponse:
    """Misclassified images: instructors always, students after close."""
    sub = or_404(access.submission_get_visible, user=request.user, submission_id=pk)
    competition = sub.competition
    instructor = access.competition_is_instructor(user=request.user, competition=competition)
    if not (instructor or competition.is_finished()) or sub.predictions is None:
        raise Http404("Not available")
    dataset = dataset_load(record=competition.dataset)
    preds = np.frombuffer(bytes(sub.predictions), dtype=np.int16)
    wrong = np.flatnonzero(preds != dataset.labels)
    shown = wrong[:120]
    items = [
        {
            "index": int(i),
            "uri": image_data_uri(dataset.images[i], scale=2),
            "label": dataset.classes[int(dataset.labels[i])],
            "pred": dataset.classes[int(preds[i])]
            if 0 <= preds[i] < len(dataset.classes)
            else str(preds[i]),
        }
        for i in shown
    ]
    return render(
        request,
        "competitions/gallery.html",
        {"sub": sub, "competition": competition, "items": items, "n_wrong": len(wrong)},
    )


@login_required
@require_POST
def submission_choose(request: AuthedRequest, pk: str) -> HttpResponse:
    sub = or_404(access.submission_get_visible, user=request.user, submission_id=pk)
    try:
        submissions.submission_choose_final(user=request.user, submission=sub)
        messages.success(request, "Chosen as your final submission.")
    except ServiceError as e:
        messages.error(request, e.message)
    return redirect("competitions:detail", slug=sub.competition.slug)


@login_required
@require_POST
def submission_resubmit(request: AuthedRequest, pk: str) -> HttpResponse:
    """The diagnosis' suggestion in one click: the same file, the suggested preprocessing."""
    sub = or_404(access.submission_get_visible, user=request.user, submission_id=pk)
    preset = (sub.result or {}).get("suggested_preprocess")
    if not preset or request.POST.get("preprocess") != preset:
        raise Http404("No suggestion to follow")
    try:
        new = resubmit.submission_resubmit(user=request.user, submission=sub, preprocess=preset)
    except ServiceError as e:
        messages.error(request, f"Refused: {e.message}")
        return redirect("competitions:submission", pk=sub.pk)
    messages.success(request, f"Resubmitted with '{preset}': this counts as a submission.")
    return redirect("competitions:submission", pk=new.pk)


@login_required
@require_POST
def team_action(request: AuthedRequest, slug: str, action: str) -> HttpResponse:
    competition = or_404(access.competition_get_visible, user=request.user, slug=slug)
    if not access.competition_can_submit(user=request.user, competition=competition):
        raise Http404("No such competition")
    try:
        if action == "create":
            create_form = TeamCreateForm(request.POST)
            if create_form.is_valid():
                team = teams.team_create(
                    competition=competition,
                    user=request.user,
                    name=create_form.cleaned_data["name"],
                )
                messages.success(request, f"Team created. Share the code {team.join_code}.")
            else:
                _errors_shown(request, create_form)
        elif action == "join":
            join_form = TeamJoinForm(request.POST)
            if join_form.is_valid():
                team = teams.team_join(
                    competition=competition, user=request.user, code=join_form.cleaned_data["code"]
                )
                messages.success(request, f"You joined {team.name}.")
            else:
                _errors_shown(request, join_form)
        elif action == "leave":
            teams.team_leave(competition=competition, user=request.user)
            messages.success(request, "You left the team.")
        else:
            raise Http404("No such action")
    except ServiceError as e:
        messages.error(request, e.message)
    return redirect("competitions:detail", slug=slug)


# Refusals about the file itself are shown next to the file field; the rest above the form.
FILE_CODES = {"bad_format", "too_large"}


def _errors_shown(request: HttpRequest, form: forms.Form) -> None:
    """A form's errors as messages, for the POST-only views that redirect to a page."""
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, str(error))
