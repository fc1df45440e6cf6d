"""Staff and instructor overviews: the status page (queues, the oldest wait, workers seen; staff
only) and a competition's similarity signals (its instructors only). 404 for anyone else."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from competitions.models import StaffAlert
from competitions.selectors import access
from competitions.selectors.participation import (
    participation_rows,
    score_over_time,
    student_submissions,
    submissions_per_day,
)
from competitions.selectors.similarity import similarity_pairs
from competitions.selectors.status import queue_status_list, worker_list_seen
from competitions.views.http import AuthedRequest
from competitions.views.lookup import or_404


@login_required
def status(request: AuthedRequest) -> HttpResponse:
    if not request.user.is_staff:
        raise Http404("Not found")
    now = timezone.now()
    recent, silent = worker_list_seen(now=now)
    return render(
        request,
        "competitions/instructor/status.html",
        {
            "queues": queue_status_list(now=now),
            "workers": recent,
            "silent": silent,
            "alert_after_min": settings.PODIUM_QUEUE_ALERT_AFTER_S // 60,
            "last_alert": StaffAlert.objects.filter(kind="queue_wait").first(),
            "now": now,
        },
    )


@login_required
def similarity(request: AuthedRequest, slug: str) -> HttpResponse:
    competition = or_404(access.competition_get_for_instructor, user=request.user, slug=slug)
    pairs, p0, source = similarity_pairs(competition=competition)
    return render(
        request,
        "competitions/instructor/similarity.html",
        {"competition": competition, "pairs": pairs, "p0": p0, "source": source},
    )


@login_required
def participation(request: AuthedRequest, slug: str) -> HttpResponse:
    competition = or_404(access.competition_get_for_instructor, user=request.user, slug=slug)
    rows = participation_rows(competition=competition)
    return render(
        request,
        "competitions/instructor/participation.html",
        {
            "competition": competition,
            "rows": rows,
            "missing": sum(1 for r in rows if not r.scored),
            "per_day": submissions_per_day(competition=competition),
        },
    )


@login_required
def student_progress(request: AuthedRequest, slug: str, username: str) -> HttpResponse:
    competition = or_404(access.competition_get_for_instructor, user=request.user, slug=slug)
    student = get_object_or_404(User, username=username)
    subs = list(student_submissions(competition=competition, user=student))
    return render(
        request,
        "competitions/instructor/student_progress.html",
        {
            "competition": competition,
            "student": student,
            "subs": subs,
            "points": score_over_time(subs),
        },
    )
