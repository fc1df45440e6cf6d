"""Grade passback through the real pipeline: the worker grades the baselines and the students'
models, the instructor closes the competition in the web UI, the worker posts each grade (the
grades CSV's computation) to the simulated platform's line item; posting again changes nothing."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.test import Client

from competitions.grade_policy import policy_check
from competitions.models import Competition, LtiIdentity, Submission
from competitions.selectors.exports import grades_csv
from competitions.services.submissions import baseline_create, submission_create
from testsupport.lti_platform import AGS_SCOPES, INSTRUCTOR, LEARNER, SimulatedPlatform
from testsupport.mnist import fit_logreg, logreg_onnx
from testsupport.procs import wait_for
from testsupport.web import upload, wait_done

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TARGET = "http://testserver/c/digits/"


@pytest.fixture
def platform(competition):
    p = SimulatedPlatform()
    p.register(course=competition.course.slug)
    p.tool_jwks = Client().get("/lti/jwks/").json()
    yield p
    p.close()


def test_closing_posts_each_students_grade_to_the_line_item_once(
    platform, competition, users, models, mnist_train, celery_worker
):
    item = platform.add_lineitem("Digits")
    ags = {
        "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
            "scope": AGS_SCOPES,
            "lineitems": platform.url + "/lineitems",
            "lineitem": item["id"],
        }
    }
    teacher = Client()
    assert (
        platform.launch(teacher, sub="t-1", roles=[INSTRUCTOR], target=TARGET, **ags).status_code
        == 302
    )
    for sub in ("s-mid", "s-good", "s-none"):
        assert (
            platform.launch(Client(), sub=sub, roles=[LEARNER], target=TARGET, **ags).status_code
            == 302
        )
    student = {s: LtiIdentity.objects.get(sub=s).user for s in ("s-mid", "s-good")}

    w, b = fit_logreg(mnist_train.images[:1000], mnist_train.labels[:1000], 12)
    subs = [
        baseline_create(
            user=users["teacher"],
            competition=competition,
            upload=upload(models["weak"]),
            label="low",
        ),
        baseline_create(
            user=users["teacher"],
            competition=competition,
            upload=upload(models["good"]),
            label="high",
        ),
        submission_create(
            user=student["s-mid"], competition=competition, upload=upload(logreg_onnx(w, b))
        ),
        submission_create(
            user=student["s-good"], competition=competition, upload=upload(models["good"])
        ),
    ]
    low, high, mid, good = (wait_done(s.pk) for s in subs)
    assert all(s.status == Submission.Status.SCORED for s in (low, high, mid, good))
    assert low.private_score < mid.private_score < high.private_score

    # The instructor's grade policy: linear between the two baselines, 15 for no scored entry.
    policy = {"kind": "linear", "low": low.private_score, "high": high.private_score, "none": 15}
    Competition.objects.filter(pk=competition.pk).update(grade_policy=policy_check(policy))
    r = teacher.post("/teach/c/digits/do/close/")
    assert r.status_code == 302
    wait_for(lambda: len(platform.scores) >= 3 or None, 60, "the grades to reach the platform")

    got = {s["userId"]: s for s in platform.scores}
    expected_mid = (
        (mid.private_score - low.private_score) / (high.private_score - low.private_score) * 100
    )
    assert set(got) == {"s-mid", "s-good", "s-none"}
    assert got["s-mid"]["scoreGiven"] == pytest.approx(expected_mid, abs=0.01)
    assert 0 < got["s-mid"]["scoreGiven"] < 100
    assert got["s-good"]["scoreGiven"] == 100.0 and got["s-none"]["scoreGiven"] == 15.0
    assert all(s["lineitem"] == item["id"] and s["scoreMaximum"] == 100 for s in got.values())
    # The same numbers as the grades CSV (one computation).
    competition.refresh_from_db()
    rows = csv.DictReader(io.StringIO(grades_csv(competition=competition)))
    csv_grade = {r["username"]: float(r["grade"]) for r in rows}
    for sub in ("s-mid", "s-good", "s-none"):
        user = LtiIdentity.objects.get(sub=sub).user
        assert csv_grade[user.username] == pytest.approx(got[sub]["scoreGiven"], abs=0.05)

    call_command("lti_push_grades", "digits")
    assert len(platform.scores) == 3
    page = teacher.get("/lti/teach/c/digits/grades/").content.decode()
    assert 'id="lti-failed"' not in page and page.count("<tr") == 4  # header + 3 students
