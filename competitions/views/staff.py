"""The staff status page: queues, the oldest wait, workers seen (staff only; 404 otherwise)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from competitions.models import StaffAlert
from competitions.selectors.status import queue_status_list, worker_list_seen
from competitions.views.http import AuthedRequest


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
