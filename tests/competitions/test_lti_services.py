"""LTI services against the simulated platform: deep linking, NRPS roster sync, AGS passback
(failures kept and retried, idempotent), and the commands' refusals."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import jwt
import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from competitions.errors import Refused
from competitions.grade_policy import policy_check
from competitions.lti.platforms import platform_add
from competitions.models import (
    AuditEntry,
    Competition,
    LtiGradePost,
    LtiIdentity,
    LtiPlatform,
    Membership,
)
from competitions.services.courses import course_create
from testsupport.lti_platform import INSTRUCTOR, LEARNER, LTI, Member, SimulatedPlatform

TARGET = "http://testserver/c/digits/"


@pytest.fixture
def registered(db, competition):
    # The grade policy states what a student without a scored entry gets: 20 here.
    policy = policy_check({"kind": "linear", "low": 0.5, "high": 1.0, "none": 20})
    Competition.objects.filter(pk=competition.pk).update(grade_policy=policy)
    p = SimulatedPlatform()
    p.register(course=competition.course.slug)
    p.tool_jwks = Client().get("/lti/jwks/").json()
    yield p
    p.close()


def _instructor(platform: SimulatedPlatform) -> Client:
    client = Client()
    r = platform.launch(client, sub="t-1", roles=[INSTRUCTOR], target=TARGET)
    assert r.status_code == 302
    return client


def _deep_link_claims(platform: SimulatedPlatform) -> dict:
    return platform.deep_link_claims()


def test_deep_linking_answers_a_signed_response_naming_the_chosen_competition(registered):
    client = Client()
    claims = _deep_link_claims(registered)
    r = registered.launch(client, sub="t-1", roles=[INSTRUCTOR], target=TARGET, **claims)
    assert r.status_code == 200 and b'value="digits"' in r.content
    launch_id = re.search(rb'name="launch_id" value="([^"]+)"', r.content).group(1).decode()
    r = client.post("/lti/deep-link/", {"launch_id": launch_id, "competition": "digits"})
    assert r.status_code == 200
    html = r.content.decode()
    assert f'action="{registered.url}/deep-link-return"' in html
    token = unescape(re.search(r'name="JWT" value="([^"]+)"', html).group(1))
    keys = Client().get("/lti/jwks/").json()["keys"]
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWK(next(k for k in keys if k["kid"] == kid))
    body = jwt.decode(token, key, algorithms=["RS256"], audience=registered.issuer)
    assert body["iss"] == registered.client_id
    assert body[LTI + "message_type"] == "LtiDeepLinkingResponse"
    assert body["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque-42"
    (item,) = body["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert item["type"] == "ltiResourceLink" and item["url"] == TARGET
    assert item["lineItem"]["scoreMaximum"] == 100


def test_deep_linking_is_for_instructors_only(registered):
    claims = _deep_link_claims(registered)
    r = registered.launch(Client(), sub="s-1", roles=[LEARNER], target=TARGET, **claims)
    assert r.status_code == 403 and b'data-code="lti_not_instructor"' in r.content


def test_a_deep_link_answer_needs_the_launching_instructors_session(registered):
    client = Client()
    claims = _deep_link_claims(registered)
    r = registered.launch(client, sub="t-1", roles=[INSTRUCTOR], target=TARGET, **claims)
    launch_id = re.search(rb'name="launch_id" value="([^"]+)"', r.content).group(1).decode()
    client.logout()
    r = client.post("/lti/deep-link/", {"launch_id": launch_id, "competition": "digits"})
    assert r.status_code == 403 and b"JWT" not in r.content


def test_roster_sync_enrols_the_platforms_active_members_with_their_roles(registered, competition):
    client = _instructor(registered)
    registered.members = [
        Member("n-1", [LEARNER], "Nina Roe", "nina@lms.example.org"),
        Member("n-2", [INSTRUCTOR], "Ian Tor", "ian@lms.example.org"),
        Member("n-3", [LEARNER], "Gone Away", status="Inactive"),
    ]
    r = client.post("/lti/teach/courses/ml101/sync/", follow=True)
    assert b"3 members" not in r.content and b"2 members, 2 newly enrolled" in r.content
    course = competition.course
    nina = LtiIdentity.objects.get(sub="n-1").user
    assert nina.email == "nina@lms.example.org"
    assert Membership.objects.get(course=course, user=nina).role == "student"
    assert (
        Membership.objects.get(course=course, user__lti_identities__sub="n-2").role == "instructor"
    )
    assert not LtiIdentity.objects.filter(sub="n-3").exists()
    assert registered.token_requests  # the token came from the tool's signed assertion
    # The same person launching later is the same account.
    registered.launch(Client(), sub="n-1", roles=[LEARNER], target=TARGET)
    assert LtiIdentity.objects.filter(sub="n-1").count() == 1
    assert b"signs in from the LMS" in client.get("/teach/courses/ml101/roster/").content
    (entry,) = AuditEntry.objects.filter(action="roster")
    assert entry.actor_id == LtiIdentity.objects.get(sub="t-1").user_id
    assert entry.details["from"] == "lms" and entry.details["added"] == 2


def test_grade_passback_failure_is_shown_then_retried_and_never_posted_twice(registered):
    client = _instructor(registered)
    registered.launch(Client(), sub="s-1", roles=[LEARNER], target=TARGET)
    registered.fail_scores = 1
    with pytest.raises(CommandError) as failed:
        call_command("lti_push_grades", "digits")
    assert failed.value.returncode == 1
    post = LtiGradePost.objects.get(user__lti_identities__sub="s-1")
    assert "503" in post.error and post.posted_at is None
    page = client.get("/lti/teach/c/digits/grades/").content.decode()
    assert 'id="lti-failed"' in page and "503" in page
    # The line item was created in the platform's container (the launch named none).
    (item,) = registered.lineitems
    assert item["tag"] == "podium:digits" and item["scoreMaximum"] == 100

    call_command("lti_push_grades", "digits")
    (score,) = registered.scores
    assert score["userId"] == "s-1" and score["scoreGiven"] == 20.0  # the policy's "none"
    assert score["scoreMaximum"] == 100 and score["gradingProgress"] == "FullyGraded"
    assert score["lineitem"] == item["id"]
    assert 'id="lti-failed"' not in client.get("/lti/teach/c/digits/grades/").content.decode()

    call_command("lti_push_grades", "digits")
    assert len(registered.scores) == 1
    # In the staff log: the failed push and the one that posted; the no-op push left no entry.
    pushes = AuditEntry.objects.filter(action="grades").order_by("at", "pk")
    assert [(e.actor, e.details["posted"], e.details["failed"]) for e in pushes] == [
        ("system", 0, 1),
        ("system", 1, 0),
    ]


def test_the_grades_page_is_for_the_courses_instructors(registered, users):
    registered.launch(learner := Client(), sub="s-1", roles=[LEARNER], target=TARGET)
    assert learner.get("/lti/teach/c/digits/grades/").status_code == 404
    assert learner.post("/lti/teach/courses/ml101/sync/").status_code == 404


def test_commands_refuse_bad_input_with_a_message_and_exit_2(db):
    with pytest.raises(CommandError) as e:
        call_command("lti_push_grades", "nope")
    assert e.value.returncode == 2 and "nope" in str(e.value)
    p = SimulatedPlatform()
    try:
        with pytest.raises(CommandError) as e:
            call_command(
                "lti_platform_add",
                "--issuer=x",
                "--client-id=c",
                "--deployment-id=d",
                "--auth-url=ftp://lms/auth",
                f"--token-url={p.token_url}",
                f"--jwks-url={p.jwks_url}",
            )
        assert e.value.returncode == 2 and "--auth-url" in str(e.value)
        with pytest.raises(CommandError) as e:
            call_command(
                "lti_platform_add",
                "--issuer=x",
                "--client-id=c",
                "--deployment-id=d",
                "--auth-url=http://lms.example.org/auth",
                f"--token-url={p.token_url}",
                f"--jwks-url={p.jwks_url}",
            )
        assert e.value.returncode == 2 and "https" in str(e.value)
        with pytest.raises(CommandError) as e:
            call_command(
                "lti_platform_add",
                "--issuer=x",
                "--client-id=c",
                "--deployment-id=d",
                f"--auth-url={p.auth_url}",
                f"--token-url={p.token_url}",
                f"--jwks-url={p.jwks_url}",
                "--course=missing",
            )
        assert e.value.returncode == 2 and "missing" in str(e.value)
    finally:
        p.close()


def test_an_instructor_registers_an_lms_on_the_lti_page(db, users, course):
    client = Client()
    client.force_login(users["teacher"])
    page = client.get("/lti/teach/platforms/").content.decode()
    assert "http://testserver/lti/login/" in page and "http://testserver/lti/jwks/" in page
    p = SimulatedPlatform()
    fields = {
        "issuer": p.issuer,
        "client_id": "c-1",
        "deployment_id": "d-1",
        "auth_url": p.auth_url,
        "token_url": p.token_url,
        "jwks_url": p.jwks_url,
        "course": "ml101",
        "frame_origins": "",
    }
    try:
        bad = client.post("/lti/teach/platforms/", {**fields, "jwks_url": "not a url"})
        assert bad.status_code == 200 and b"Enter a valid URL" in bad.content
        assert not LtiPlatform.objects.exists()
        r = client.post("/lti/teach/platforms/", fields, follow=True)
        assert b"Registered" in r.content and b"d-1 \xe2\x86\x92 ML 101" in r.content
        platform = LtiPlatform.objects.get(issuer=p.issuer, client_id="c-1")
        assert platform.registered_by == users["teacher"]
        assert platform.deployments.get().course == course
        # Another instructor can neither change that registration nor map to a course not theirs.
        other = Client()
        other_course = course_create(slug="cv", name="CV", instructor=users["carol"])
        other.force_login(users["carol"])
        r = other.post(
            "/lti/teach/platforms/", {**fields, "course": "cv", "jwks_url": p.url + "/x"}
        )
        assert b"ask the site" in r.content
        assert LtiPlatform.objects.get(pk=platform.pk).jwks_url == p.jwks_url
        r = other.post("/lti/teach/platforms/", {**fields, "client_id": "c-2", "course": "ml101"})
        assert r.status_code == 200 and b"Select a valid choice" in r.content
        assert other_course.pk and not LtiPlatform.objects.filter(client_id="c-2").exists()
        with pytest.raises(Refused):  # the service holds the rule, not only the form's choices
            args = {k: v for k, v in fields.items() if k not in ("course", "frame_origins")}
            platform_add(**{**args, "client_id": "c-2"}, course_slug="ml101", by=users["carol"])
        # Students see no such page.
        student = Client()
        student.force_login(users["alice"])
        assert student.get("/lti/teach/platforms/").status_code == 404
    finally:
        p.close()


def test_the_periodic_task_syncs_rosters_and_posts_grades_of_recent_closes_only(
    registered, competition
):
    from competitions.tasks import lti_sync_rosters

    _instructor(registered)
    registered.launch(Client(), sub="s-1", roles=[LEARNER], target=TARGET)
    registered.members = [Member("n-1", [LEARNER], "Nina Roe", "nina@lms.example.org")]
    now = timezone.now()
    # Past its close time, nobody clicked "close": the periodic pass still sends the grades.
    Competition.objects.filter(pk=competition.pk).update(
        opens_at=now - dt.timedelta(days=3), closes_at=now - dt.timedelta(hours=1)
    )
    assert lti_sync_rosters() == {"contexts": 1, "added": 1, "errors": 0}
    assert sorted(s["userId"] for s in registered.scores) == ["n-1", "s-1"]
    assert lti_sync_rosters()["added"] == 0 and len(registered.scores) == 2  # idempotent
    # Closed long ago: left alone (its grades went out then).
    Competition.objects.filter(pk=competition.pk).update(closes_at=now - dt.timedelta(days=5))
    registered.members.append(Member("n-2", [LEARNER], "Late Comer"))
    assert lti_sync_rosters()["added"] == 1 and len(registered.scores) == 2


def test_the_passback_task_retries_a_post_the_lms_refused(registered, competition):
    from competitions.tasks import lti_push_grades

    _instructor(registered)
    registered.launch(Client(), sub="s-1", roles=[LEARNER], target=TARGET)
    registered.fail_scores = 1
    teacher = LtiIdentity.objects.get(sub="t-1").user
    # As the "Send grades to the LMS now" button sends it (eager: the retry runs at once).
    lti_push_grades.apply(args=[competition.pk, teacher.pk])
    (score,) = registered.scores
    assert score["userId"] == "s-1"
    post = LtiGradePost.objects.get(user__lti_identities__sub="s-1")
    assert post.attempts == 2 and post.error == "" and post.posted_at is not None
    assert {e.actor for e in AuditEntry.objects.filter(action="grades")} == {teacher.username}


def test_without_a_grade_policy_nothing_is_sent_and_the_instructor_is_told(registered, competition):
    client = _instructor(registered)
    registered.launch(Client(), sub="s-1", roles=[LEARNER], target=TARGET)
    Competition.objects.filter(pk=competition.pk).update(grade_policy={})
    with pytest.raises(CommandError) as e:
        call_command("lti_push_grades", "digits")
    assert e.value.returncode == 2 and "no grade policy" in str(e.value)
    assert registered.scores == [] and not LtiGradePost.objects.exists()
    page = client.get("/lti/teach/c/digits/grades/").content.decode()
    assert "nothing is sent until the competition has one" in page
