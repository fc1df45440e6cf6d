"""Deep linking: an instructor picks a competition; the platform gets a signed
LtiDeepLinkingResponse naming the competition's page (with a line item for its grades)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from pylti1p3.contrib.django import DjangoMessageLaunch
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem

from competitions.errors import NotAllowed, Refused
from competitions.lti import claims as C
from competitions.lti.models import LtiContext, LtiIdentity
from competitions.models import Competition, Membership


def deep_link_form(*, request: HttpRequest, message: DjangoMessageLaunch, slug: str) -> str:
    """The auto-submitting form back to the platform. Only the instructor who launched (same
    account, same context) may answer, and only with a competition of the mapped course."""
    body: dict[str, Any] = dict(message.get_launch_data())
    if not message.is_deep_link_launch():
        raise Refused("lti_invalid", "This launch was not a deep-linking request.")
    user = request.user
    if (
        not user.is_authenticated
        or not LtiIdentity.objects.filter(
            user_id=user.pk, issuer=body["iss"], sub=str(body["sub"])
        ).exists()
    ):
        raise NotAllowed("lti_not_instructor", "Sign in from the LMS again to add a link.")
    context_id = str((body.get(C.CONTEXT) or {}).get("id") or "")
    context = LtiContext.objects.filter(
        platform__issuer=body["iss"],
        platform__client_id=message.get_client_id(),
        context_id=context_id,
    ).first()
    if (
        context is None
        or not Membership.objects.filter(
            course=context.course, user_id=user.pk, role=Membership.Role.INSTRUCTOR
        ).exists()
    ):
        raise NotAllowed("lti_not_instructor")
    competition = Competition.objects.filter(course=context.course, slug=slug).first()
    if competition is None:
        raise Refused("lti_invalid", "Choose one of the course's competitions.")
    url = request.build_absolute_uri(reverse("competitions:detail", args=[competition.slug]))
    resource = (
        DeepLinkResource()
        .set_url(url)
        .set_title(competition.title)
        .set_custom_params({"podium_competition": competition.slug})
        .set_lineitem(
            LineItem()
            .set_score_maximum(100)
            .set_label(competition.title)
            .set_tag(f"podium:{competition.slug}")
        )
    )
    return message.get_deep_link().output_response_form([resource])
