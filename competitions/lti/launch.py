"""What a verified launch does: the account, the course it maps to, the enrolment, the landing.

The signature, state, nonce, expiry, audience and deployment are checked by pylti1p3 (views call
it) before anything here runs; `nonce_use` makes each nonce single-use across sessions too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.text import slugify

from competitions.errors import Refused
from competitions.lti import claims as C
from competitions.lti.accounts import enrol, identity_user
from competitions.lti.models import (
    LtiContext,
    LtiDeployment,
    LtiNonce,
    LtiPlatform,
    LtiResourceLink,
)
from competitions.models import Competition, Course
from competitions.services.courses import course_create


@dataclass
class Launched:
    user: User
    course: Course
    instructor: bool
    competition: Competition | None
    context: LtiContext


def nonce_use(*, issuer: str, nonce: str, expires: int) -> None:
    """Refuse a nonce seen before (a replayed launch); rows past their token's expiry go."""
    now = timezone.now()
    LtiNonce.objects.filter(expires_at__lt=now - dt.timedelta(hours=1)).delete()
    try:
        with transaction.atomic():
            LtiNonce.objects.create(
                issuer=issuer,
                nonce=nonce[:255],
                # Kept until the token expires, at most a day: by then its `iat` is past
                # PODIUM_LTI_MAX_TOKEN_AGE_S, so a replay is refused anyway (and a far-future
                # `exp` must not overflow the date).
                expires_at=min(
                    dt.datetime.fromtimestamp(min(expires, 2**31), tz=dt.UTC),
                    now + dt.timedelta(days=1),
                ),
            )
    except IntegrityError:
        raise Refused("lti_replayed") from None


def _free_slug(base: str) -> str:
    base = (slugify(base) or "course")[:40]
    slug, n = base, 1
    while Course.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def _context(
    *,
    platform: LtiPlatform,
    deployment: LtiDeployment,
    body: dict[str, Any],
    user: User,
    instructor: bool,
) -> LtiContext:
    claim = body.get(C.CONTEXT) or {}
    context_id = str(claim.get("id") or f"deployment:{deployment.deployment_id}")[:255]
    title = str(claim.get("title") or claim.get("label") or "")[:200]
    context = LtiContext.objects.filter(platform=platform, context_id=context_id).first()
    if context is None:
        course = deployment.course
        if course is None:
            if not instructor:
                raise Refused("lti_no_course")
            course = course_create(slug=_free_slug(title or context_id), name=title or context_id)
        context = LtiContext.objects.create(
            platform=platform, deployment=deployment, context_id=context_id, course=course
        )
    nrps = body.get(C.NRPS) or {}
    ags = body.get(C.AGS) or {}
    context.title = title or context.title
    context.memberships_url = str(nrps.get("context_memberships_url") or context.memberships_url)[
        :500
    ]
    context.lineitems_url = str(ags.get("lineitems") or context.lineitems_url)[:500]
    if isinstance(ags.get("scope"), list):
        context.ags_scopes = [str(s) for s in ags["scope"]]
    context.save()
    return context


def competition_for_target(*, course: Course, target: str) -> Competition | None:
    """The competition whose page `target_link_uri` names, if it belongs to the course. Only the
    path counts: the platform may know the site under another host name."""
    try:
        match = resolve(urlsplit(target).path)
    except Resolver404:
        return None
    if match.view_name != "competitions:detail":
        return None
    return Competition.objects.filter(course=course, slug=match.kwargs.get("slug", "")).first()


def launch_accept(*, platform: LtiPlatform, body: dict[str, Any]) -> Launched:
    """A verified launch's claims -> signed-in account, enrolled with the LMS role."""
    deployment = LtiDeployment.objects.select_related("course").get(
        platform=platform, deployment_id=body.get(C.DEPLOYMENT_ID)
    )
    roles = body.get(C.ROLES) or []
    instructor = C.is_instructor(roles)
    if not instructor and not C.is_learner(roles):
        raise Refused("lti_role")
    with transaction.atomic():
        user = identity_user(issuer=platform.issuer, sub=str(body["sub"]), claims=body)
        context = _context(
            platform=platform, deployment=deployment, body=body, user=user, instructor=instructor
        )
        enrol(course=context.course, user=user, instructor=instructor)
        competition = competition_for_target(
            course=context.course, target=str(body.get(C.TARGET_LINK_URI) or "")
        )
        custom = body.get(C.CUSTOM) or {}
        if competition is None and isinstance(custom, dict) and custom.get("podium_competition"):
            # Deep linking puts the slug in a custom parameter too, for an LMS that launches
            # its links with its own target URI.
            competition = Competition.objects.filter(
                course=context.course, slug=str(custom["podium_competition"])
            ).first()
        link_claim = body.get(C.RESOURCE_LINK) or {}
        if link_claim.get("id"):
            lineitem = str((body.get(C.AGS) or {}).get("lineitem") or "")[:500]
            link, _ = LtiResourceLink.objects.get_or_create(
                context=context, resource_link_id=str(link_claim["id"])[:255]
            )
            changed = False
            if competition is not None and link.competition_id != competition.pk:
                link.competition, changed = competition, True
            if lineitem and link.lineitem_url != lineitem:
                link.lineitem_url, changed = lineitem, True
            if changed:
                link.save()
            competition = competition or link.competition
    return Launched(
        user=user,
        course=context.course,
        instructor=instructor,
        competition=competition,
        context=context,
    )
