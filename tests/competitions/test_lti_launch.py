"""LTI 1.3 launches against a simulated platform on loopback (testsupport.lti_platform): real
RSA signatures, the platform's JWKS fetched over HTTP, pylti1p3 verifying on the tool's side."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from competitions.models import LtiContext, LtiIdentity, Membership
from testsupport.lti_platform import INSTRUCTOR, LEARNER, SimulatedPlatform

TARGET = "http://testserver/c/digits/"


@pytest.fixture
def platform(db):
    p = SimulatedPlatform()
    yield p
    p.close()


@pytest.fixture
def registered(platform, competition):
    platform.register(course=competition.course.slug)
    return platform


def _accounts() -> int:
    return get_user_model().objects.count()


def test_learner_launch_creates_the_account_enrols_a_student_and_lands_on_the_competition(
    registered, competition
):
    client = Client()
    r = registered.launch(client, sub="s-123", roles=[LEARNER], target=TARGET)
    assert r.status_code == 302 and r["Location"] == "/c/digits/"
    identity = LtiIdentity.objects.get(issuer=registered.issuer, sub="s-123")
    assert identity.user.email == "s-123@lms.example.org"
    assert not identity.user.has_usable_password()
    m = Membership.objects.get(course=competition.course, user=identity.user)
    assert m.role == Membership.Role.STUDENT
    page = client.get("/c/digits/")
    assert page.status_code == 200 and b"Digits" in page.content


def test_instructor_launch_enrols_an_instructor_and_a_second_launch_reuses_the_account(
    registered, competition
):
    client = Client()
    r = registered.launch(client, sub="t-1", roles=[INSTRUCTOR], target=TARGET)
    assert r.status_code == 302 and r["Location"] == "/c/digits/"
    user = LtiIdentity.objects.get(sub="t-1").user
    assert Membership.objects.get(course=competition.course, user=user).role == "instructor"
    assert client.get("/teach/c/digits/submissions/").status_code == 200
    before = _accounts()
    r = registered.launch(Client(), sub="t-1", roles=[INSTRUCTOR], target=TARGET)
    assert r.status_code == 302 and _accounts() == before


def test_first_instructor_launch_without_a_course_creates_one_and_learners_follow(platform, db):
    platform.register()
    r = platform.launch(Client(), sub="learner-early", roles=[LEARNER], target="http://testserver/")
    assert r.status_code == 403 and b"not opened Podium" in r.content
    assert not LtiIdentity.objects.exists()
    r = platform.launch(Client(), sub="t-9", roles=[INSTRUCTOR], target="http://testserver/")
    assert r.status_code == 302 and r["Location"] == "/"
    context = LtiContext.objects.get(context_id=platform.context_id)
    assert context.course.name == "Machine learning 101"
    r = platform.launch(Client(), sub="s-9", roles=[LEARNER], target="http://testserver/")
    assert r.status_code == 302
    assert Membership.objects.get(user__lti_identities__sub="s-9").course == context.course


def _refused(r, code: str) -> None:
    assert r.status_code in (400, 403), r.status_code
    assert f'data-code="{code}"'.encode() in r.content, r.content[:800]


def _forged(platform: SimulatedPlatform):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return lambda body: platform.sign(body, key=other)  # right kid, wrong key


def test_a_tampered_signature_is_refused_and_nothing_is_created(registered, competition):
    before = (_accounts(), Membership.objects.count())
    r = registered.launch(
        Client(), sub="evil", roles=[INSTRUCTOR], target=TARGET, tamper=_forged(registered)
    )
    _refused(r, "lti_invalid")
    assert b"Signature verification failed" in r.content
    assert (_accounts(), Membership.objects.count()) == before


def test_a_modified_payload_is_refused(registered, competition):
    def swap_role(body):
        token = registered.sign(body)
        head, _, sig = token.split(".")
        body["sub"] = "someone-else"
        return ".".join([head, registered.sign(body).split(".")[1], sig])

    r = registered.launch(Client(), sub="s-1", roles=[LEARNER], target=TARGET, tamper=swap_role)
    _refused(r, "lti_invalid")
    assert not LtiIdentity.objects.exists()


def test_a_wrong_audience_is_refused(registered, competition):
    r = registered.launch(Client(), sub="s-2", roles=[LEARNER], target=TARGET, aud="another-tool")
    _refused(r, "lti_invalid")
    assert not LtiIdentity.objects.exists()


def test_an_expired_token_is_refused(registered, competition):
    old = int(time.time()) - 3600
    r = registered.launch(
        Client(), sub="s-3", roles=[LEARNER], target=TARGET, iat=old, exp=old + 60
    )
    _refused(r, "lti_invalid")
    assert b"expired" in r.content
    assert not LtiIdentity.objects.exists()


def test_an_unknown_deployment_is_refused(registered, competition):
    r = registered.launch(
        Client(),
        sub="s-4",
        roles=[LEARNER],
        target=TARGET,
        **{"https://purl.imsglobal.org/spec/lti/claim/deployment_id": "other"},
    )
    _refused(r, "lti_invalid")
    assert not LtiIdentity.objects.exists()


def test_a_replayed_launch_is_refused_even_in_the_same_browser(registered, competition):
    client = Client()
    assert registered.launch(client, sub="s-5", roles=[LEARNER], target=TARGET).status_code == 302
    client.logout()
    count = _accounts()
    r = client.post("/lti/launch/", registered.last_post)
    _refused(r, "lti_replayed")
    assert _accounts() == count
    assert "_auth_user_id" not in client.session


def test_a_nonce_the_tool_did_not_issue_is_refused(registered, competition):
    client = Client()
    auth = registered.login(client, target=TARGET)
    body = registered.claims(sub="s-6", roles=[LEARNER], target=TARGET, nonce="made-up")
    r = client.post("/lti/launch/", {"id_token": registered.sign(body), "state": auth["state"]})
    _refused(r, "lti_invalid")
    assert not LtiIdentity.objects.exists()


def test_an_unregistered_platform_cannot_start_a_login(db):
    r = Client().get(
        "/lti/login/",
        {
            "iss": "https://nobody.example",
            "client_id": "x",
            "login_hint": "h",
            "target_link_uri": TARGET,
        },
    )
    _refused(r, "lti_invalid")


def test_lti_pages_may_be_framed_by_the_registered_platform_only(registered, competition, users):
    client = Client()
    r = client.get("/lti/login/", {"iss": "https://nobody.example", "client_id": "x"})
    assert r["Content-Security-Policy"] == f"frame-ancestors 'self' {registered.url}"
    assert "X-Frame-Options" not in r
    assert Client().get("/").get("X-Frame-Options") == "DENY"
    teacher = Client()
    teacher.force_login(users["teacher"])  # no LTI session: the teach pages are not framed
    assert teacher.get("/lti/teach/platforms/").get("X-Frame-Options") == "DENY"
    registered.launch(client, sub="s-7", roles=[LEARNER], target=TARGET)
    page = client.get("/c/digits/")
    assert "X-Frame-Options" not in page
    assert page["Content-Security-Policy"] == f"frame-ancestors 'self' {registered.url}"


def test_in_an_iframe_the_login_first_checks_that_cookies_work(registered, competition):
    r = Client().get(
        "/lti/login/",
        {
            "iss": registered.issuer,
            "client_id": registered.client_id,
            "login_hint": "h",
            "target_link_uri": TARGET,
        },
        headers={"Sec-Fetch-Dest": "iframe"},
    )
    assert r.status_code == 200 and b"lti1p3_new_window" in r.content


def test_the_tools_jwks_publishes_the_signing_key_and_keeps_the_old_one_after_rotation(db):
    first = Client().get("/lti/jwks/").json()["keys"]
    assert len(first) == 1 and first[0]["kty"] == "RSA" and "d" not in first[0]
    call_command("lti_keys_rotate")
    after = Client().get("/lti/jwks/").json()["keys"]
    assert [k["kid"] for k in after][1:] == [first[0]["kid"]] and len(after) == 2
    assert jwt.algorithms.RSAAlgorithm.from_jwk(after[0])


def test_the_platforms_keys_are_fetched_once_then_again_when_it_rotates_them(
    registered, competition
):
    for sub in ("s-a", "s-b"):
        assert (
            registered.launch(Client(), sub=sub, roles=[LEARNER], target=TARGET).status_code == 302
        )
    assert registered.jwks_hits == 1  # cached
    registered.rotate()
    assert registered.launch(Client(), sub="s-c", roles=[LEARNER], target=TARGET).status_code == 302
    assert registered.jwks_hits == 2


def test_an_oversized_platform_keyset_is_refused_with_a_clear_page(
    registered, competition, settings
):
    settings.PODIUM_LTI_MAX_RESPONSE_BYTES = 64 * 1024
    registered.jwks_padding = 200 * 1024
    r = registered.launch(Client(), sub="s-d", roles=[LEARNER], target=TARGET)
    _refused(r, "lti_invalid")
    assert b"could not be read" in r.content and b"more than 65536 bytes" in r.content
    assert not LtiIdentity.objects.exists()


def test_iat_in_the_future_or_long_ago_is_refused_a_small_skew_is_not(registered, competition):
    now = int(time.time())
    r = registered.launch(Client(), sub="s-e", roles=[LEARNER], target=TARGET, iat=now + 3600)
    _refused(r, "lti_invalid")
    assert b"not yet valid" in r.content
    r = registered.launch(
        Client(), sub="s-f", roles=[LEARNER], target=TARGET, iat=now - 7200, exp=now + 300
    )
    _refused(r, "lti_invalid")
    assert b"too long ago" in r.content
    assert not LtiIdentity.objects.exists()
    r = registered.launch(Client(), sub="s-g", roles=[LEARNER], target=TARGET, iat=now + 20)
    assert r.status_code == 302


def test_lti_accounts_get_readable_names_and_never_take_over_a_local_account(
    registered, competition, users
):
    registered.launch(Client(), sub="alice", roles=[LEARNER], target=TARGET)
    lti_alice = LtiIdentity.objects.get(sub="alice").user
    assert lti_alice.username == "alice-2" and lti_alice != users["alice"]
    assert not LtiIdentity.objects.filter(user=users["alice"]).exists()
    registered.launch(Client(), sub="zed", roles=[LEARNER], target=TARGET)
    assert LtiIdentity.objects.get(sub="zed").user.username == "zed"


def test_on_https_every_cookie_of_a_launch_survives_the_lms_cross_site_post(
    registered, competition, settings
):
    # What production sets (PODIUM_LTI_IFRAME_COOKIES, on when DEBUG=0; checked below).
    settings.SESSION_COOKIE_SAMESITE = settings.CSRF_COOKIE_SAMESITE = "None"
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    client = Client()
    r = registered.launch(client, sub="s-h", roles=[LEARNER], target=TARGET, secure=True)
    assert r.status_code == 302 and r["Location"] == "/c/digits/"
    state_cookies = [
        c for name, c in registered.last_login.cookies.items() if name.startswith("lti1p3")
    ]
    assert state_cookies and all(c["samesite"] == "None" and c["secure"] for c in state_cookies)
    session = r.cookies[settings.SESSION_COOKIE_NAME]
    assert session["samesite"] == "None" and session["secure"]


@pytest.mark.parametrize(
    ("env", "expected"),
    [({}, "None None True"), ({"PODIUM_LTI_IFRAME_COOKIES": "0"}, "Lax Lax True")],
)
def test_production_settings_send_cookies_cross_site_unless_turned_off(env, expected, tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SAMESITE, s.CSRF_COOKIE_SAMESITE, s.SESSION_COOKIE_SECURE)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.production",
            "SECRET_KEY": "x" * 50,
            "ALLOWED_HOSTS": "podium.example.org",
            "PODIUM_VAR_DIR": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.stdout.strip().splitlines()[-1] == expected, out.stderr[-2000:]


def test_a_deep_linked_custom_parameter_lands_on_the_competition_whatever_the_target(
    registered, competition
):
    custom = {"https://purl.imsglobal.org/spec/lti/claim/custom": {"podium_competition": "digits"}}
    r = registered.launch(
        Client(), sub="s-x", roles=[LEARNER], target="http://testserver/lti/launch/", **custom
    )
    assert r.status_code == 302 and r["Location"] == "/c/digits/"
    # The link remembers its competition: a later launch of it lands there too.
    r = registered.launch(Client(), sub="s-z", roles=[LEARNER], target="http://testserver/")
    assert r["Location"] == "/c/digits/"
    other = {
        "https://purl.imsglobal.org/spec/lti/claim/custom": {"podium_competition": "nope"},
        "https://purl.imsglobal.org/spec/lti/claim/resource_link": {"id": "another-link"},
    }
    r = registered.launch(
        Client(), sub="s-y", roles=[LEARNER], target="http://testserver/", **other
    )
    assert r.status_code == 302 and r["Location"] == "/"


def test_an_anonymous_launch_is_refused(registered, competition):
    def anonymous(body):
        del body["sub"]
        return registered.sign(body)

    r = registered.launch(Client(), sub="x", roles=[LEARNER], target=TARGET, tamper=anonymous)
    _refused(r, "lti_invalid")
    assert b"Must have a user (sub)" in r.content and not LtiIdentity.objects.exists()
