"""The /lti/ endpoints: OIDC login initiation, launch, the tool's JWKS, deep linking's answer.

Thin: pylti1p3 checks the protocol (state, nonce in this browser, signature against the
platform's JWKS, exp/iat, audience = client id, known deployment); services do the rest.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from pylti1p3.contrib.django import DjangoOIDCLogin
from pylti1p3.exception import LtiException, OIDCException

from competitions.errors import ServiceError, error_code
from competitions.lti.deeplink import deep_link_form
from competitions.lti.frames import SESSION_KEY, platform_origins
from competitions.lti.keys import keys_jwks
from competitions.lti.launch import launch_accept, nonce_use
from competitions.lti.models import LtiPlatform
from competitions.lti.protocol import launch_restore, launch_storage, launch_verify
from competitions.lti.toolconf import DbToolConf
from competitions.models import Competition

_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _refused(request: HttpRequest, code: str, message: str | None = None) -> HttpResponse:
    """The refusal page; the status and the default message come from competitions.errors."""
    spec = error_code(code)
    context = {"code": code, "message": message or spec.message}
    return render(request, "competitions/lti/refused.html", context, status=spec.status)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def oidc_login(request: HttpRequest) -> HttpResponse:
    """Step 1: the platform names itself; the browser goes to its auth URL with state and nonce."""
    oidc = DjangoOIDCLogin(request, DbToolConf(), launch_data_storage=launch_storage())
    # Inside an iframe, first check that the browser keeps the tool's cookies; where it does not
    # (third-party cookies blocked), pylti1p3's page offers to open Podium in a new window.
    if request.headers.get("Sec-Fetch-Dest") == "iframe":
        oidc.enable_check_cookies()
    try:
        return oidc.redirect(request.build_absolute_uri(reverse("lti:launch")))
    except (LtiException, OIDCException) as e:
        return _refused(request, "lti_invalid", f"This LMS is not registered with Podium ({e}).")


@csrf_exempt
@require_POST
def launch(request: HttpRequest) -> HttpResponse:
    """Step 2: the signed id_token. Verified, then the account is signed in and enrolled."""
    try:
        message = launch_verify(request)
        body: dict[str, Any] = dict(message.get_launch_data())
    except LtiException as e:
        return _refused(request, "lti_invalid", f"This LMS launch could not be verified: {e}.")
    platform = LtiPlatform.objects.get(issuer=body["iss"], client_id=message.get_client_id())
    try:
        nonce_use(issuer=platform.issuer, nonce=str(body["nonce"]), expires=int(body["exp"]))
        launched = launch_accept(platform=platform, body=body)
    except ServiceError as e:
        return _refused(request, e.code, e.message)
    login(request, launched.user, backend=_BACKEND)
    request.session[SESSION_KEY] = platform_origins(platform)
    if message.is_deep_link_launch():
        if not launched.instructor:
            return _refused(request, "lti_not_instructor", "Only instructors can add Podium links.")
        competitions = Competition.objects.filter(course=launched.course).order_by("title")
        return render(
            request,
            "competitions/lti/deep_link.html",
            {
                "launch_id": message.get_launch_id(),
                "competitions": competitions,
                "course": launched.course,
            },
        )
    if launched.competition is not None:
        return redirect("competitions:detail", slug=launched.competition.slug)
    return redirect("competitions:home")


@require_POST
def deep_link(request: HttpRequest) -> HttpResponse:
    """Step 3 of deep linking: the instructor's pick goes back to the platform, signed."""
    try:
        message = launch_restore(request, str(request.POST.get("launch_id", "")))
        html = deep_link_form(
            request=request, message=message, slug=str(request.POST.get("competition", ""))
        )
    except LtiException as e:
        return _refused(request, "lti_invalid", f"This deep-linking session is not valid: {e}.")
    except ServiceError as e:
        return _refused(request, e.code, e.message)
    return HttpResponse(html)


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    """The tool's public keys: platforms check deep-linking answers and token requests with it."""
    return JsonResponse(keys_jwks())
