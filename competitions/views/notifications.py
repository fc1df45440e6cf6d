"""A person's notifications: the list (opening it marks them read) and the e-mail choice."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render

from competitions.selectors.notifications import notification_list, notify_prefs_get
from competitions.services.notify import notifications_mark_read, notify_prefs_set
from competitions.views.http import AuthedRequest


@login_required
def notifications(request: AuthedRequest) -> HttpResponse:
    if request.method == "POST":
        wanted = request.POST.get("results_by_email") == "on"
        notify_prefs_set(user=request.user, results_by_email=wanted)
        messages.success(
            request,
            "Scores and failures are e-mailed to you."
            if wanted
            else "Scores and failures are no longer e-mailed (they stay listed here).",
        )
        return redirect("competitions:notifications")
    items = list(notification_list(user=request.user))
    unread_ids = {n.pk for n in items if n.read_at is None}
    notifications_mark_read(user=request.user)
    return render(
        request,
        "competitions/notifications.html",
        {
            "items": items,
            "unread_ids": unread_ids,
            "results_by_email": notify_prefs_get(user=request.user),
        },
    )
