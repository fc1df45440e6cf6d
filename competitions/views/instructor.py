"""Instructor pages: competitions, datasets, roster, submissions, rescoring, close, exports."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from competitions.errors import ServiceError
from competitions.forms import CompetitionForm, DatasetImportForm, RosterForm
from competitions.lti.selectors import lti_contexts_for_course, lti_user_ids
from competitions.models import Competition, Course, HeldOutDataset, Submission
from competitions.selectors import access
from competitions.selectors.exports import baseline_choices, grades_csv, standings_csv
from competitions.selectors.onboarding import roster_rows
from competitions.selectors.submissions import (
    SUBMISSION_FLAGS,
    SUBMISSION_SORTS,
    submission_list_filtered,
)
from competitions.services import courses, submissions
from competitions.services.announcements import announcement_create
from competitions.services.competitions import (
    CompetitionChange,
    competition_create,
    competition_update,
)
from competitions.services.datasets import DatasetWarnings, dataset_import_uploads
from competitions.services.reference_baselines import baselines_attach_reference
from competitions.views.http import AuthedRequest
from competitions.views.lookup import or_404

LIST_PARAMS = ("q", "status", "flag", "sort")  # the submissions list's filters (GET)


def _require_instructor(request: AuthedRequest) -> None:
    if not (request.user.is_staff or access.course_list_taught(user=request.user).exists()):
        raise Http404("Not found")


@login_required
def dashboard(request: AuthedRequest) -> HttpResponse:
    _require_instructor(request)
    taught = access.course_list_taught(user=request.user)
    comps = access.competition_list_visible(user=request.user)
    if not request.user.is_staff:
        comps = comps.filter(course__in=taught)
    return render(
        request,
        "competitions/instructor/dashboard.html",
        {
            "courses": taught,
            "competitions": comps,
            "datasets": HeldOutDataset.objects.order_by("name"),
        },
    )


@login_required
def competition_edit(request: AuthedRequest, slug: str | None = None) -> HttpResponse:
    _require_instructor(request)
    instance = None
    if slug is not None:
        instance = or_404(access.competition_get_for_instructor, user=request.user, slug=slug)
    taught = access.course_list_taught(user=request.user)
    form = CompetitionForm(request.POST or None, instance=instance, courses=taught)
    if request.method == "POST" and form.is_valid():
        try:
            values = dict(form.cleaned_data)
            attach = values.pop("attach_baselines", False)
            if instance is None:
                competition = competition_create(user=request.user, values=values)
                change = CompetitionChange()
                if attach:
                    n = len(baselines_attach_reference(competition=competition))
                    messages.info(request, f"{n} reference baselines queued for grading.")
            else:
                competition = instance
                change = competition_update(competition=instance, user=request.user, values=values)
        except ServiceError as e:
            form.add_error("course" if e.code == "course_required" else None, e.message)
        else:
            messages.success(request, _saved_message(competition, change))
            return redirect("competitions:detail", slug=competition.slug)
    if instance is None and not request.POST:
        form.initial.setdefault("opens_at", timezone.localtime().strftime("%Y-%m-%dT%H:%M"))
    return render(
        request, "competitions/instructor/competition_form.html", {"form": form, "edit": instance}
    )


def _saved_message(competition: Competition, change: CompetitionChange) -> str:
    parts = ["Competition saved."]
    closes = f"{timezone.localtime(competition.closes_at):%Y-%m-%d %H:%M %Z}"
    if change.reopened:
        parts.append(f"It is open again: submissions are accepted until {closes}.")
    elif competition.is_finished():
        parts.append("It is closed: submissions are not accepted.")
    if change.split_rescored:
        parts.append(f"Split scores of {change.split_rescored} submissions recomputed.")
    if change.requeued:
        parts.append(f"{change.requeued} submissions queued for rescoring.")
    return " ".join(parts)


@login_required
def dataset_import(request: AuthedRequest) -> HttpResponse:
    _require_instructor(request)
    form = DatasetImportForm(request.POST or None, request.FILES or None)
    warnings: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            ds = dataset_import_uploads(
                files=form.cleaned_data["files"],
                name=form.cleaned_data["name"],
                split=form.cleaned_data["split"] or "test",
                user=request.user,
                confirmed=form.cleaned_data["confirm"],
            )
        except DatasetWarnings as e:
            warnings = e.warnings
        except ServiceError as e:
            form.add_error(None, f"{e.code}: {e.message}")
        else:
            messages.success(request, f"Imported {ds.name}: {ds.n_images} images.")
            return redirect("competitions:dataset", pk=ds.pk)
    if not warnings:
        del form.fields["confirm"]  # asked only about warnings the instructor has seen
    return render(
        request,
        "competitions/instructor/dataset_import.html",
        {"form": form, "warnings": warnings},
    )


@login_required
def dataset_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    _require_instructor(request)
    ds = get_object_or_404(HeldOutDataset, pk=pk)
    return render(request, "competitions/instructor/dataset_detail.html", {"ds": ds})


@login_required
def dataset_preview(request: AuthedRequest, pk: int) -> FileResponse:
    _require_instructor(request)
    ds = get_object_or_404(HeldOutDataset, pk=pk)
    if not ds.preview:
        raise Http404("No preview")
    return FileResponse(ds.preview.open("rb"), content_type="image/png")


@login_required
def course_roster(request: AuthedRequest, slug: str) -> HttpResponse:
    course = get_object_or_404(Course, slug=slug)
    if not access.course_is_instructor(user=request.user, course=course):
        raise Http404("No such course")
    form = RosterForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        raw = form.cleaned_data["csv_file"].read(1 << 20)
        try:
            report = courses.course_roster_import(
                course=course,
                actor=request.user,
                csv_text=raw.decode("utf-8-sig"),
                site=request.build_absolute_uri("/"),
            )
            messages.success(
                request,
                f"{len(report.enrolled)} enrolled, {len(report.created)} new; "
                f"{report.mailed} e-mails sent"
                + (f", {report.mail_failed} not sent (see below)" if report.mail_failed else "."),
            )
        except (ServiceError, UnicodeDecodeError) as e:
            messages.error(request, getattr(e, "message", "The file is not UTF-8 text."))
    return render(
        request,
        "competitions/instructor/roster.html",
        {
            "course": course,
            "form": form,
            "report": report,
            "rows": roster_rows(course=course),
            "invitation_days": settings.PODIUM_INVITATION_DAYS,
            "lti_contexts": lti_contexts_for_course(course=course),
            "lti_users": lti_user_ids(course=course),
        },
    )


@login_required
def competition_submissions(request: AuthedRequest, slug: str) -> HttpResponse:
    competition = or_404(access.competition_get_for_instructor, user=request.user, slug=slug)
    return render(
        request,
        "competitions/instructor/submissions.html",
        {
            "competition": competition,
            "submissions": submission_list_filtered(
                competition=competition, **{k: request.GET.get(k, "") for k in LIST_PARAMS}
            )[:500],
            "filters": {k: request.GET.get(k, "") for k in LIST_PARAMS},
            "sorts": list(SUBMISSION_SORTS),
            "flags": list(SUBMISSION_FLAGS),
            "statuses": Submission.Status.values,
            "baselines": baseline_choices(competition=competition),
            "now": timezone.now(),
        },
    )


@login_required
@require_POST
def competition_action(request: AuthedRequest, slug: str, action: str) -> HttpResponse:
    competition = or_404(access.competition_get_for_instructor, user=request.user, slug=slug)
    reason = request.POST.get("reason", "")
    try:
        if action == "close":
            submissions.competition_close(
                competition=competition, actor=request.user, reason=reason
            )
            messages.success(request, "Closed: the private leaderboard is now shown to everyone.")
        elif action == "reopen":
            submissions.competition_reopen(
                competition=competition, actor=request.user, reason=reason
            )
            closes = f"{timezone.localtime(competition.closes_at):%Y-%m-%d %H:%M %Z}"
            messages.success(request, f"Reopened: submissions are accepted until {closes}.")
        elif action == "announce":
            announcement_create(
                competition=competition,
                user=request.user,
                title=request.POST.get("title", ""),
                body=request.POST.get("body", ""),
            )
            messages.success(request, "Announced on the competition page.")
            return redirect("competitions:detail", slug=slug)
        elif action == "rescore_all":
            n = submissions.competition_rescore_all(
                competition=competition, actor=request.user, reason=reason
            )
            messages.success(request, f"{n} submissions queued for rescoring.")
        else:
            raise Http404("No such action")
    except ServiceError as e:
        messages.error(request, e.message)
    return redirect("competitions:submissions", slug=slug)


@login_required
@require_POST
def submission_action(request: AuthedRequest, pk: str, action: str) -> HttpResponse:
    sub = or_404(access.submission_get_visible, user=request.user, submission_id=pk)
    if not access.competition_is_instructor(user=request.user, competition=sub.competition):
        raise Http404("No such submission")
    flags = {
        "hide": {"hidden": True},
        "unhide": {"hidden": False},
        "disqualify": {"disqualified": True},
        "requalify": {"disqualified": False},
    }
    reason = request.POST.get("reason", "")
    try:
        if action == "rescore":
            submissions.submission_rescore(submission=sub, actor=request.user, reason=reason)
        elif action in flags:
            submissions.submission_set_flags(
                submission=sub, actor=request.user, reason=reason, **flags[action]
            )
        else:
            raise Http404("No such action")
    except ServiceError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, _DONE[action])
    return redirect(_safe_next(request) or reverse("competitions:submission", args=[sub.pk]))


_DONE = {
    "rescore": "Queued for rescoring.",
    "hide": "Hidden: off the leaderboard; the student sees it is hidden, and why.",
    "unhide": "Shown again on the leaderboard.",
    "disqualify": "Disqualified: off the standings; the student sees it, and why.",
    "requalify": "Requalified: it counts again.",
}


def _safe_next(request: AuthedRequest) -> str | None:
    """`next` when it is a path on this site (never another host, never a URL name)."""
    target = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if safe and target.startswith("/") else None


def _csv(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def export_standings(request: AuthedRequest, slug: str) -> HttpResponse:
    competition = or_404(access.competition_get_for_instructor, user=request.user, slug=slug)
    return _csv(standings_csv(competition=competition), f"{slug}-standings.csv")


@login_required
def export_grades(request: AuthedRequest, slug: str) -> HttpResponse:
    competition = or_404(access.competition_get_for_instructor, user=request.user, slug=slug)
    scores = {pk: score for pk, _, score in baseline_choices(competition=competition)}
    low = scores.get(request.GET.get("low", ""))
    high = scores.get(request.GET.get("high", ""))
    return _csv(grades_csv(competition=competition, low=low, high=high), f"{slug}-grades.csv")
