"""The course's staff audit log page (instructors only), filterable."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render

from competitions.models import AuditEntry, Course
from competitions.selectors import access
from competitions.selectors.audit import AuditFilter, audit_entries
from competitions.views.http import AuthedRequest


@login_required
def course_audit(request: AuthedRequest, slug: str) -> HttpResponse:
    course = get_object_or_404(Course, slug=slug)
    if not access.course_is_instructor(user=request.user, course=course):
        raise Http404("No such course")
    q = request.GET
    competition = q.get("competition", "")
    where = AuditFilter(
        competition_id=int(competition) if competition.isdigit() else None,
        action=q.get("action", "") if q.get("action") in AuditEntry.Action.values else "",
        actor=q.get("actor", "").strip(),
        subject=q.get("subject", "").strip(),
    )
    return render(
        request,
        "competitions/instructor/audit.html",
        {
            "course": course,
            "entries": audit_entries(course=course, where=where),
            "where": where,
            "actions": AuditEntry.Action.choices,
            "competitions": course.competitions.order_by("title"),
        },
    )
