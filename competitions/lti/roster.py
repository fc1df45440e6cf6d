"""Names and Role Provisioning Services: the LMS roster into the mapped Podium course (the
roster page's button and the periodic task). Accounts are keyed by (issuer, sub) as launches
are, so a student synced first and launching later is one account."""

from __future__ import annotations

from dataclasses import dataclass

import requests
from django.db import transaction
from django.utils import timezone
from pylti1p3.exception import LtiException
from pylti1p3.names_roles import NamesRolesProvisioningService
from pylti1p3.service_connector import ServiceConnector

from competitions.lti import claims as C
from competitions.lti.accounts import enrol, identity_user
from competitions.lti.http import BoundedSession
from competitions.lti.models import LtiContext
from competitions.lti.toolconf import registration_for
from competitions.models import Course, Membership
from competitions.services.audit import Actor, audit_record


@dataclass
class SyncReport:
    contexts: int = 0
    added: int = 0  # newly enrolled in the course
    members: int = 0  # active members the platform listed
    errors: int = 0


def _sync_context(context: LtiContext, report: SyncReport) -> None:
    connector = ServiceConnector(registration_for(context.platform), BoundedSession())
    nrps = NamesRolesProvisioningService(
        connector, {"context_memberships_url": context.memberships_url}
    )
    try:
        members = nrps.get_members()
    except (LtiException, requests.RequestException, ValueError, KeyError) as e:
        context.sync_error = f"{type(e).__name__}: {e}"[:500]
        context.save(update_fields=["sync_error"])
        report.errors += 1
        return
    with transaction.atomic():
        for member in members:
            roles = member.get("roles") or []
            if member.get("status", "Active") != "Active" or not member.get("user_id"):
                continue
            if not (C.is_instructor(roles) or C.is_learner(roles)):
                continue
            user = identity_user(
                issuer=context.platform.issuer,
                sub=str(member["user_id"]),
                claims=dict(member),
            )
            known = Membership.objects.filter(course=context.course, user=user).exists()
            enrol(course=context.course, user=user, instructor=C.is_instructor(roles))
            report.members += 1
            report.added += 0 if known else 1
        context.synced_at, context.sync_error = timezone.now(), ""
        context.save(update_fields=["synced_at", "sync_error"])
    report.contexts += 1


def lti_roster_sync(*, course: Course | None = None, actor: Actor = None) -> SyncReport:
    """Syncs the course's LMS contexts (all contexts with an NRPS endpoint when no course). A
    sync that enrolled someone is in the staff audit log (`actor` None: the periodic task)."""
    report = SyncReport()
    contexts = LtiContext.objects.exclude(memberships_url="").select_related("platform", "course")
    if course is not None:
        contexts = contexts.filter(course=course)
    for context in contexts:
        added = report.added
        _sync_context(context, report)
        if report.added > added:
            audit_record(
                actor=actor,
                action="roster",
                course=context.course,
                details={
                    "from": "lms",
                    "context": context.context_id,
                    "added": report.added - added,
                },
            )
    return report
