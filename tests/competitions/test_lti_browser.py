"""Podium inside an LMS's iframe, in a real browser: the simulated platform's course page frames
/lti/login/, the browser follows the OIDC login (pylti1p3's cookie check, the platform's
auto-submitting id_token form) and the launch lands on the competition inside the frame. A page
from an origin that is not a registered platform cannot frame Podium. Skipped without chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

from competitions.models import LtiIdentity, Membership
from testsupport.lti_platform import INSTRUCTOR, LEARNER, SimulatedPlatform

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def chromium(browser):
    """The suite's browser (testsupport.browser, a pytest plugin)."""
    return browser


@pytest.fixture
def lms(live_server, competition):
    # "localhost" for both: the platform and the tool are the same site on different ports, as
    # an LMS and Podium are on HTTPS with SameSite=None cookies (plain HTTP has no Secure ones).
    p = SimulatedPlatform(host="localhost", tool_url=live_server.url)
    p.register(course=competition.course.slug)
    p.browser_users = {"s-web": [LEARNER], "t-web": [INSTRUCTOR]}
    yield p
    p.close()


def test_a_learner_opens_podium_in_the_lms_iframe_and_lands_on_the_competition(
    chromium, live_server, lms, competition
):
    page = chromium.new_context().new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{lms.url}/course?user=s-web&target={live_server.url}/c/digits/")
    frame = page.frame_locator("#tool")
    frame.locator("h1", has_text="Digits").wait_for()
    user = LtiIdentity.objects.get(issuer=lms.issuer, sub="s-web").user
    assert Membership.objects.get(course=competition.course, user=user).role == "student"
    assert user.username in frame.locator("header").inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "lti-launch-in-iframe.png"), full_page=True)

    # The same browser, signed in, on a page of an origin that is not a registered platform.
    intruder = SimulatedPlatform(host="localhost", tool_url=live_server.url)
    try:
        evil = page.context.new_page()
        blocked: list[str] = []
        evil.on("console", lambda m: blocked.append(m.text))
        evil.goto(f"{intruder.url}/course?user=s-web")
        evil.wait_for_timeout(1500)
        frame = evil.query_selector("#tool").content_frame()
        assert "LMS launch" not in frame.content() and "Digits" not in frame.content()
        assert any("frame-ancestors" in m for m in blocked), blocked
    finally:
        intruder.close()


def test_an_instructor_picks_a_competition_and_the_lms_receives_the_signed_link(
    chromium, live_server, lms, competition
):
    page = chromium.new_context().new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{lms.url}/course?user=t-web&pick=1")
    frame = page.frame_locator("#tool")
    frame.locator("label", has_text="Digits").click()
    frame.locator("#deep-link-submit").click()
    frame.locator("#added", has_text="Digits").wait_for()
    (answer,) = lms.deep_links  # verified by the platform with the tool's /lti/jwks/
    (item,) = answer["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert item["url"] == f"{live_server.url}/c/digits/"
    assert answer["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque-42"
