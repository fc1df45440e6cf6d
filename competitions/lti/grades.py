"""Assignment and Grade Services: each student's grade by the competition's grade policy
(competitions.selectors.grades, the grades CSV's computation) posted to the platform's line item, with an access token from the tool's signed
client assertion (pylti1p3's ServiceConnector, RFC 7523).

Idempotent: the last value the platform took is kept per (link, student); the same value is not
sent again. A failure is kept on the row (the instructor's page shows it) and the task retries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import requests
from django.db.models import Q
from django.utils import timezone
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.exception import LtiException
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from pylti1p3.service_connector import ServiceConnector

from competitions.lti.http import BoundedSession
from competitions.lti.models import LtiContext, LtiGradePost, LtiIdentity, LtiResourceLink
from competitions.lti.toolconf import registration_for
from competitions.models import Competition
from competitions.selectors.grades import StudentGrade, grades_list
from competitions.services.audit import Actor, audit_record

_FAILURES = (LtiException, requests.RequestException, ValueError, KeyError)


@dataclass
class PushReport:
    posted: int = 0
    unchanged: int = 0
    failed: int = 0
    no_account: int = 0  # students the platform never launched: it has no id for them
    no_policy: bool = False  # the competition has no grade policy: nothing to send
    errors: list[str] = field(default_factory=list)


def _targets(competition: Competition) -> list[LtiResourceLink]:
    """The competition's links; a course context without one gets a tool-made link whose line
    item the tool creates in the context's line-items container."""
    links = list(
        LtiResourceLink.objects.filter(competition=competition).select_related("context__platform")
    )
    linked = {link.context_id for link in links}
    if competition.course_id:
        for context in LtiContext.objects.filter(course_id=competition.course_id).exclude(
            pk__in=linked
        ):
            if context.lineitems_url:
                link, _ = LtiResourceLink.objects.get_or_create(
                    context=context,
                    resource_link_id=f"podium:{competition.slug}",
                    defaults={"competition": competition},
                )
                links.append(link)
    return links


def _service(link: LtiResourceLink) -> AssignmentsGradesService:
    context = link.context
    connector = ServiceConnector(registration_for(context.platform), BoundedSession())
    return AssignmentsGradesService(
        connector,
        {
            "scope": context.ags_scopes,
            "lineitems": context.lineitems_url,
            "lineitem": link.lineitem_url,
        },
    )


def _lineitem(link: LtiResourceLink, ags: AssignmentsGradesService, title: str, slug: str) -> str:
    if not link.lineitem_url:
        item = ags.find_or_create_lineitem(
            LineItem().set_tag(f"podium:{slug}").set_label(title).set_score_maximum(100)
        )
        link.lineitem_url = str(item.get_id() or "")[:500]
        link.save(update_fields=["lineitem_url"])
    return link.lineitem_url


def _post_one(
    ags: AssignmentsGradesService, lineitem: str, post: LtiGradePost, sub: str, value: float
) -> bool:
    grade = (
        Grade()
        .set_score_given(value)
        .set_score_maximum(100)
        .set_timestamp(timezone.now().isoformat())
        .set_activity_progress("Completed")
        .set_grading_progress("FullyGraded")
        .set_user_id(sub)
    )
    post.attempts += 1
    try:
        ags.put_grade(grade, LineItem({"id": lineitem}))
    except _FAILURES as e:
        post.error = f"{type(e).__name__}: {e}"[:500]
        post.save(update_fields=["attempts", "error"])
        return False
    post.grade, post.posted_at, post.error = value, timezone.now(), ""
    post.save(update_fields=["attempts", "error", "grade", "posted_at"])
    return True


def _push_link(link: LtiResourceLink, grades: list[StudentGrade], report: PushReport) -> None:
    competition = link.competition
    assert competition is not None
    subs = dict(
        LtiIdentity.objects.filter(
            issuer=link.context.platform.issuer, user__in=[g.user for g in grades]
        ).values_list("user_id", "sub")
    )
    ags = _service(link)
    lineitem = ""
    for g in grades:
        sub = subs.get(g.user.pk)
        if sub is None:
            report.no_account += 1
            continue
        value = round(g.grade or 0.0, 4)  # the policy states the grade of 'no entry'
        post, _ = LtiGradePost.objects.get_or_create(link=link, user=g.user)
        if post.posted_at is not None and post.grade == value and not post.error:
            report.unchanged += 1
            continue
        try:
            lineitem = lineitem or _lineitem(link, ags, competition.title, competition.slug)
        except _FAILURES as e:
            post.attempts += 1
            post.error = f"line item: {type(e).__name__}: {e}"[:500]
            post.save(update_fields=["attempts", "error"])
            report.failed += 1
            continue
        if _post_one(ags, lineitem, post, sub, value):
            report.posted += 1
        else:
            report.failed += 1
            report.errors.append(f"{g.user.username}: {post.error}")


def lti_grades_push(*, competition: Competition, actor: Actor = None) -> PushReport:
    """Posts every student's grade to each LMS line item of the competition (see module doc).
    A push that sent something (or failed to) is in the staff audit log; `actor` None is the
    system (the close's task, the periodic pass, the command)."""
    report = PushReport()
    links = _targets(competition)
    if not links:
        return report
    if not competition.grade_policy:
        report.no_policy = True
        return report
    grades = grades_list(competition=competition, policy=competition.grade_policy)
    for link in links:
        _push_link(link, grades, report)
    if report.posted or report.failed:
        audit_record(
            actor=actor,
            action="grades",
            competition=competition,
            details={"posted": report.posted, "failed": report.failed, "to": "lms"},
        )
    return report


def lti_grades_due(*, days: int = 2) -> dict[str, PushReport]:
    """The periodic pass: competitions of LMS courses that finished in the last `days` (closed by
    an instructor, or past the last deadline anyone has: extensions and the late window count)
    get their grades pushed; unchanged grades send nothing, so this retries what failed and
    catches closes no instructor clicked."""
    now = timezone.now()
    since = now - dt.timedelta(days=days)
    candidates = Competition.objects.filter(
        Q(closed=True, closed_at__gte=since) | Q(closes_at__lte=now),
        course__lti_contexts__isnull=False,
    ).distinct()
    finished = [
        c
        for c in candidates
        if c.is_finished(now) and (c.closed_at or c.last_deadline or c.closes_at) >= since
    ]
    return {c.slug: lti_grades_push(competition=c) for c in finished}
