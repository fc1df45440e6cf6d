"""Services and selectors without a worker: refusals, quotas, teams, claims, leaderboard, CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io

import numpy as np
import pytest
from django.utils import timezone

from competitions.errors import NotAllowed, QuotaExceeded, Refused
from competitions.models import RefusedUpload, Submission
from competitions.selectors.exports import grades_csv, standings_csv
from competitions.selectors.leaderboard import leaderboard_get
from competitions.services.courses import course_join, course_roster_import
from competitions.services.grading import submission_claim
from competitions.services.standings import standing_refresh_for
from competitions.services.submissions import (
    baseline_create,
    submission_choose_final,
    submission_create,
    submission_set_flags,
)
from competitions.services.teams import team_create, team_join, team_leave
from competitions.services.uploads import filename_sanitize
from competitions.splits import split_indices
from testsupport.web import upload

pytestmark = pytest.mark.django_db


def test_split_is_deterministic_disjoint_and_sized():
    pub, priv = split_indices(1000, 0.3, 42)
    again_pub, _ = split_indices(1000, 0.3, 42)
    other_pub, _ = split_indices(1000, 0.3, 43)
    assert len(pub) == 300 and len(priv) == 700
    assert not set(pub) & set(priv) and set(pub) | set(priv) == set(range(1000))
    assert np.array_equal(pub, again_pub) and not np.array_equal(pub, other_pub)
    with pytest.raises(ValueError):
        split_indices(10, 1.0, 0)


def test_filename_is_sanitized_display_text():
    assert filename_sanitize("../../etc/passwd") == "passwd"
    assert filename_sanitize("C:\\Users\\x\\net<script>.onnx") == "net_script_.onnx"
    assert filename_sanitize("") == "model"
    assert len(filename_sanitize("a" * 300 + ".onnx")) <= 100


def test_bad_upload_is_refused_at_once_and_not_counted(
    users, competition, django_capture_on_commit_callbacks
):
    with pytest.raises(Refused) as e:
        submission_create(user=users["alice"], competition=competition, upload=upload(b"garbage"))
    assert e.value.code and e.value.message
    with pytest.raises(Refused) as e:
        submission_create(user=users["alice"], competition=competition, upload=upload(b"x", "m.pt"))
    assert e.value.code == "bad_format"
    assert Submission.objects.count() == 0
    assert RefusedUpload.objects.filter(user=users["alice"]).count() == 2


def test_flood_limit_on_refused_uploads(users, competition, models, settings):
    settings.PODIUM_FLOOD_LIMIT_PER_HOUR = 2
    for _ in range(2):
        with pytest.raises(Refused):
            submission_create(user=users["alice"], competition=competition, upload=upload(b"bad"))
    with pytest.raises(Refused) as e:
        submission_create(
            user=users["alice"], competition=competition, upload=upload(models["good"])
        )
    assert e.value.code == "flood" and "try again after" in e.value.message


def test_daily_quota_says_when_it_resets(users, competition, models):
    for _ in range(competition.daily_limit):
        submission_create(
            user=users["alice"], competition=competition, upload=upload(models["weak"])
        )
    with pytest.raises(QuotaExceeded) as e:
        submission_create(
            user=users["alice"], competition=competition, upload=upload(models["weak"])
        )
    assert e.value.code == "daily_quota" and "resets at" in e.value.message
    # Yesterday's submissions don't count toward today's limit, but do toward the total.
    Submission.objects.update(created_at=timezone.now() - dt.timedelta(days=1))
    submission_create(user=users["alice"], competition=competition, upload=upload(models["weak"]))
    competition.total_limit = 4
    competition.save()
    with pytest.raises(QuotaExceeded) as e:
        submission_create(
            user=users["alice"], competition=competition, upload=upload(models["weak"])
        )
    assert e.value.code == "total_quota"


def test_deadline(users, competition, models):
    competition.closes_at = timezone.now() - dt.timedelta(minutes=1)
    competition.save()
    with pytest.raises(Refused) as e:
        submission_create(
            user=users["alice"], competition=competition, upload=upload(models["good"])
        )
    assert e.value.code == "closed"
    assert RefusedUpload.objects.count() == 0


def test_claim_changes_exactly_one_row_once(users, competition, models):
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    assert submission_claim(submission_id=sub.pk) == 1
    assert submission_claim(submission_id=sub.pk) is None
    sub.refresh_from_db()
    assert sub.status == "running" and sub.attempts == 1


def test_teams_share_quota_and_lock_after_first_submission(users, competition, models):
    team = team_create(competition=competition, user=users["alice"], name="Owls")
    team_join(competition=competition, user=users["bob"], code=team.join_code.lower())
    with pytest.raises(Refused) as e:
        team_join(competition=competition, user=users["carol"], code=team.join_code)
    assert e.value.code == "team_full"
    sub = submission_create(
        user=users["bob"], competition=competition, upload=upload(models["weak"])
    )
    assert sub.team == team
    with pytest.raises(Refused) as e:
        team_leave(competition=competition, user=users["alice"])
    assert e.value.code == "team_submitted"
    for _ in range(competition.daily_limit - 1):
        submission_create(
            user=users["alice"], competition=competition, upload=upload(models["weak"])
        )
    with pytest.raises(QuotaExceeded):
        submission_create(user=users["bob"], competition=competition, upload=upload(models["weak"]))


def test_leave_before_first_submission(users, competition):
    team = team_create(competition=competition, user=users["alice"], name="Solo")
    team_leave(competition=competition, user=users["alice"])
    assert not type(team).objects.filter(pk=team.pk).exists()


def _scored(sub, public, private, params=100, created=None):
    Submission.objects.filter(pk=sub.pk).update(
        status="scored",
        public_score=public,
        private_score=private,
        params=params,
        created_at=created or sub.created_at,
    )
    standing_refresh_for(submission=sub)  # the update above bypasses the grading service
    sub.refresh_from_db()
    return sub


def test_leaderboard_rows_choice_ties_baselines_and_bounded_queries(
    users, competition, models, django_assert_max_num_queries
):
    t0 = timezone.now() - dt.timedelta(hours=5)
    make = lambda user, **kw: submission_create(  # noqa: E731
        user=users[user], competition=competition, upload=upload(models["weak"]), **kw
    )
    a1 = _scored(make("alice"), 0.80, 0.70, created=t0)
    a2 = _scored(make("alice"), 0.90, 0.60, created=t0 + dt.timedelta(hours=1))
    b1 = _scored(make("bob"), 0.90, 0.95, created=t0 + dt.timedelta(hours=2))
    base = _scored(
        baseline_create(
            user=users["teacher"],
            competition=competition,
            upload=upload(models["weak"]),
            label="Logistic baseline",
        ),
        0.85,
        0.85,
    )
    failed = make("carol")
    Submission.objects.filter(pk=failed.pk).update(status="failed")

    with django_assert_max_num_queries(2):
        rows = leaderboard_get(competition=competition)
    names = [r.name for r in rows]
    # Tie at 0.90: alice's entry was submitted earlier than bob's.
    assert names == ["alice", "bob", "Logistic baseline"]
    assert rows[0].submission_id == str(a2.pk) and rows[0].entries == 2
    assert rows[2].is_baseline and rows[2].submission_id == str(base.pk)
    assert all(r.private_score is None for r in rows)  # public phase

    submission_choose_final(user=users["alice"], submission=a1)
    rows = leaderboard_get(competition=competition, private=True)
    assert [r.name for r in rows] == ["bob", "Logistic baseline", "alice"]
    assert rows[2].score == pytest.approx(0.70)
    with pytest.raises(NotAllowed):
        submission_choose_final(user=users["alice"], submission=b1)
    submission_set_flags(submission=b1, disqualified=True)
    assert "bob" not in [r.name for r in leaderboard_get(competition=competition)]

    # Query count does not grow with the number of submissions.
    for _ in range(2):
        _scored(make("carol"), 0.5, 0.5)
    with django_assert_max_num_queries(2):
        leaderboard_get(competition=competition)


def test_grades_csv_one_row_per_student_with_linear_rule(users, competition, models, course):
    team = team_create(competition=competition, user=users["alice"], name="Owls")
    team_join(competition=competition, user=users["bob"], code=team.join_code)
    make = lambda user, **kw: submission_create(  # noqa: E731
        user=users[user], competition=competition, upload=upload(models["weak"]), **kw
    )
    _scored(make("alice"), 0.9, 0.9)
    _scored(
        baseline_create(
            user=users["teacher"],
            competition=competition,
            upload=upload(models["weak"]),
            label="low",
        ),
        0.5,
        0.5,
    )
    _scored(
        baseline_create(
            user=users["teacher"],
            competition=competition,
            upload=upload(models["weak"]),
            label="high",
        ),
        1.0,
        1.0,
    )
    rows = list(csv.DictReader(io.StringIO(grades_csv(competition=competition, low=0.5, high=1.0))))
    by_user = {r["username"]: r for r in rows}
    assert set(by_user) == {"alice", "bob"}  # roster students; baselines and staff excluded
    assert by_user["bob"]["team"] == "Owls" and by_user["bob"]["final_private_score"] == "0.900000"
    assert by_user["alice"]["grade"] == "80.0" and by_user["alice"]["rank"] == "1"
    standings = standings_csv(competition=competition)
    assert standings.splitlines()[1].startswith("1,high,baseline")


def test_roster_import_and_enrollment_code(course, users):
    text = "username,email,first_name,last_name\nnewkid,newkid@example.org,New,Kid\nalice,,,\n,\n"
    report = course_roster_import(course=course, csv_text=text)
    assert report.created == ["newkid"] and "alice" in report.enrolled and report.errors
    with pytest.raises(Refused):
        course_join(user=users["carol"], code="nope")
    assert course_join(user=users["carol"], code="ml101code") == course


def test_declared_preprocessing_is_checked_at_upload(users, competition, models):
    with pytest.raises(Refused) as e:
        submission_create(
            user=users["alice"],
            competition=competition,
            upload=upload(models["good"]),
            preprocess="cifar10",
        )
    assert e.value.code == "bad_preprocess"
    with pytest.raises(Refused) as e:
        submission_create(
            user=users["alice"],
            competition=competition,
            upload=upload(models["good"]),
            mean=[0.5],
            std=[0.0],
        )
    assert e.value.code == "bad_preprocess"
    sub = submission_create(
        user=users["alice"],
        competition=competition,
        upload=upload(models["good"]),
        mean=[0.1307],
        std=[0.3081],
    )
    assert sub.preprocess == "custom" and sub.mean == [0.1307]
