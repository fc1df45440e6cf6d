"""Guessing passwords is bounded: login lockout (django-axes) on the site's form and on
POST /api/tokens, a rate throttle on POST /api/tokens, and a cap on a user's API tokens."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from axes.utils import reset
from django.core.cache import cache
from django.urls import reverse

from competitions.models import ApiToken

RIGHT = "pw-alice-123"
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh_cache():
    """The throttle's counters are in the process-wide cache: start and leave it empty."""
    cache.clear()
    yield
    cache.clear()


def _site_login(client, password, username="alice", ip="127.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def _api_login(client, password, username="alice", ip="127.0.0.1", **headers):
    body = {"username": username, "password": password}
    return client.post(
        "/api/tokens", body, "application/json", REMOTE_ADDR=ip, headers=headers or None
    )


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def _rewind_failures(settings):
    """As if the cool-off had passed: every recorded failure moves back by cool-off + 1 s."""
    for attempt in AccessAttempt.objects.all():
        attempt.attempt_time -= settings.AXES_COOLOFF_TIME + dt.timedelta(seconds=1)
        attempt.save()


def test_defaults_lock_after_10_failures_for_15_minutes_keyed_on_username_and_address(settings):
    assert settings.AXES_FAILURE_LIMIT == 10
    assert settings.AXES_COOLOFF_TIME == dt.timedelta(minutes=15)
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"


def _settings_in_a_fresh_process(**env: str) -> subprocess.CompletedProcess:
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME.total_seconds(), "
        "s.PODIUM_API_LOGIN_RATE, s.PODIUM_MAX_TOKENS_PER_USER)"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=os.environ | {"DJANGO_SETTINGS_MODULE": "config.settings"} | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_limits_come_from_the_environment_and_a_bad_rate_stops_start_up():
    ok = _settings_in_a_fresh_process(
        PODIUM_LOGIN_FAILURE_LIMIT="4",
        PODIUM_LOGIN_COOLOFF_MIN="2",
        PODIUM_API_LOGIN_RATE="5/hour",
        PODIUM_MAX_TOKENS_PER_USER="7",
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.split() == ["4", "120.0", "5/hour", "7"]
    bad = _settings_in_a_fresh_process(PODIUM_API_LOGIN_RATE="lots")
    assert bad.returncode != 0 and "PODIUM_API_LOGIN_RATE" in bad.stderr
    zero = _settings_in_a_fresh_process(PODIUM_LOGIN_FAILURE_LIMIT="0")
    assert zero.returncode != 0 and "PODIUM_LOGIN_FAILURE_LIMIT" in zero.stderr


def test_site_login_locks_after_the_limit_and_then_refuses_the_right_password(
    client, users, settings
):
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        response = _site_login(client, "guess")
        assert response.status_code == 200 and not _logged_in(client)
    locked = _site_login(client, "guess")  # the limit-th failure already answers the lockout
    assert locked.status_code == 429

    right = _site_login(client, RIGHT)
    assert right.status_code == 429 and not _logged_in(client)
    page = right.content.decode()
    assert "Login locked" in page and "Too many failed logins" in page
    assert "Try again after" in page and "in about 15 minutes" in page
    assert 0 < int(right["Retry-After"]) <= 15 * 60
    assert client.get(reverse("competitions:tokens")).status_code == 302  # still anonymous


def test_a_lockout_is_for_this_username_from_this_address_only(client, users, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _site_login(client, "guess", ip="203.0.113.7")
    assert _site_login(client, RIGHT, ip="203.0.113.7").status_code == 429
    # The student on their own machine is not locked out by the attacker elsewhere...
    assert _site_login(client, RIGHT, ip="198.51.100.2").status_code == 302
    assert _logged_in(client)
    client.logout()
    # ...nor is another user from the attacker's address.
    assert _site_login(client, "pw-bob-123", username="bob", ip="203.0.113.7").status_code == 302


def test_after_the_cool_off_the_right_password_works_and_clears_the_count(client, users, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _site_login(client, "guess")
    # Tries while locked are refused without being counted: the end of the lock does not move.
    until = AccessAttempt.objects.get().attempt_time
    assert _site_login(client, "guess").status_code == 429
    assert AccessAttempt.objects.get().attempt_time == until

    _rewind_failures(settings)
    assert _site_login(client, RIGHT).status_code == 302 and _logged_in(client)
    assert not AccessAttempt.objects.exists()  # a successful login resets the failures


def test_the_librarys_reset_lifts_a_lockout(client, users, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _site_login(client, "guess")
    assert _site_login(client, RIGHT).status_code == 429
    reset(username="alice")  # what `manage.py axes_reset_username alice` does
    assert _site_login(client, RIGHT).status_code == 302


def test_a_lower_limit_from_settings_applies(client, users, settings):
    settings.AXES_FAILURE_LIMIT = 2
    assert _site_login(client, "guess").status_code == 200
    assert _site_login(client, "guess").status_code == 429


def test_api_token_login_locks_after_the_limit_in_the_json_error_shape(client, users, settings):
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        assert _api_login(client, "guess").json()["code"] == "bad_credentials"
    assert _api_login(client, "guess").status_code == 429

    right = _api_login(client, RIGHT)
    body = right.json()
    assert right.status_code == 429 and body["code"] == "login_locked", body
    assert "Try again after" in body["message"]
    assert 0 < body["retry_after"] <= 15 * 60
    assert right["Retry-After"] == str(body["retry_after"])
    assert not ApiToken.objects.exists()

    _rewind_failures(settings)
    ok = _api_login(client, RIGHT)
    assert ok.status_code == 201 and ok.json()["token"].startswith("pod_")


def test_site_and_api_failures_count_together(client, users, settings):
    limit = settings.AXES_FAILURE_LIMIT
    for i in range(limit):
        (_site_login if i % 2 else _api_login)(client, "guess")
    assert _api_login(client, RIGHT).json()["code"] == "login_locked"
    assert _site_login(client, RIGHT).status_code == 429


def test_token_creation_is_throttled_per_address_before_any_password_check(
    client, users, settings, monkeypatch, fresh_cache
):
    settings.PODIUM_API_LOGIN_RATE = "3/min"
    checked = []
    import competitions.api

    real = competitions.api.authenticate

    def counting(*args, **kwargs):
        checked.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(competitions.api, "authenticate", counting)
    for _ in range(3):
        assert _api_login(client, RIGHT).status_code == 201
    throttled = _api_login(client, RIGHT)
    body = throttled.json()
    assert throttled.status_code == 429 and body["code"] == "throttled", body
    assert body["message"] and 0 < int(throttled["Retry-After"]) <= 60
    assert len(checked) == 3  # the throttled request never reached the password hasher
    assert ApiToken.objects.count() == 3

    # X-Forwarded-For is not trusted by default (PODIUM_TRUSTED_PROXIES=0): forging it is no way out.
    forged = _api_login(client, RIGHT, **{"X-Forwarded-For": "192.0.2.99"})
    assert forged.status_code == 429
    # Another address has its own allowance.
    assert _api_login(client, RIGHT, ip="198.51.100.2").status_code == 201


def test_client_address_behind_a_trusted_proxy(rf, monkeypatch):
    from ninja.conf import settings as ninja_settings

    from competitions.lockout import client_ip

    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="forged, 203.0.113.9")
    monkeypatch.setattr(ninja_settings, "NUM_PROXIES", 0)
    assert client_ip(request) == "10.0.0.1"
    monkeypatch.setattr(ninja_settings, "NUM_PROXIES", 1)
    assert client_ip(request) == "203.0.113.9"  # the entry the proxy added, not the forged one


def test_a_user_holds_at_most_the_configured_number_of_tokens(client, users, settings):
    settings.PODIUM_MAX_TOKENS_PER_USER = 3
    for _ in range(3):
        assert _api_login(client, RIGHT).status_code == 201
    refused = _api_login(client, RIGHT)
    body = refused.json()
    assert refused.status_code == 409 and body["code"] == "too_many_tokens", body
    assert "3 API tokens" in body["message"] and "revoke" in body["message"]
    assert ApiToken.objects.filter(user=users["alice"]).count() == 3

    # The web page refuses too, and says why; revoking one frees a place.
    client.force_login(users["alice"])
    page = client.post(reverse("competitions:tokens"), {"name": "one more"}, follow=True)
    assert page.status_code == 200 and "3 API tokens" in page.content.decode()
    assert 'id="new-token"' not in page.content.decode()
    assert ApiToken.objects.filter(user=users["alice"]).count() == 3
    first = ApiToken.objects.filter(user=users["alice"]).first()
    assert first is not None
    client.post(reverse("competitions:tokens"), {"revoke": str(first.pk)})
    page = client.post(reverse("competitions:tokens"), {"name": "now fits"})
    assert 'id="new-token"' in page.content.decode()
    assert ApiToken.objects.filter(user=users["alice"]).count() == 3
