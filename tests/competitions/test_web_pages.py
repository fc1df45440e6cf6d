"""Pages as a newcomer meets them (issue 15): flags shown to the student, close and reopen, the
login redirect, team buttons, quota, upload limits, form errors, dataset warnings, the API's
gaps, baselines for new competitions, and the small things (favicon, numbers, names)."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from competitions.errors import Refused
from competitions.models import Competition, HeldOutDataset, Submission
from competitions.services.standings import standing_refresh_for
from competitions.services.submissions import (
    submission_choose_final,
    submission_create,
    submission_set_flags,
)
from competitions.services.tokens import token_create
from testsupport.web import upload

pytestmark = pytest.mark.django_db


def _scored(sub, public):
    Submission.objects.filter(pk=sub.pk).update(
        status="scored", public_score=public, private_score=public, params=61706, macs=61706
    )
    standing_refresh_for(submission=sub)
    sub.refresh_from_db()
    return sub


def _two_scored(users, competition, models):
    subs = [
        submission_create(user=users["alice"], competition=competition, upload=upload(models[k]))
        for k in ("good", "weak")
    ]
    return _scored(subs[0], 0.9), _scored(subs[1], 0.5)


def test_disqualified_final_choice_shows_reason_and_what_counts_now(
    client, users, competition, models
):
    best, weaker = _two_scored(users, competition, models)
    submission_choose_final(user=users["alice"], submission=weaker)
    submission_set_flags(submission=weaker, disqualified=True, reason="trained on the test set")
    weaker.refresh_from_db()
    with pytest.raises(Refused) as refused:
        submission_choose_final(user=users["alice"], submission=weaker)
    assert refused.value.code == "not_eligible"

    client.force_login(users["alice"])
    page = client.get(reverse("competitions:submission", args=[weaker.pk])).content.decode()
    assert "Disqualified by an instructor" in page and "trained on the test set" in page
    assert "Use as final submission" not in page
    assert f'href="/s/{best.pk}/" id="counted-now"' in page  # what counts now: the best one
    detail = client.get(reverse("competitions:detail", args=[competition.slug])).content.decode()
    assert "✔ chosen" not in detail and "chosen, but disqualified: does not count" in detail
    assert re.search(r'id="counts-now">Counts now: <a href="/s/' + str(best.pk), detail)


def test_hidden_submission_cannot_be_chosen_from_the_page(client, users, competition, models):
    best, _ = _two_scored(users, competition, models)
    submission_set_flags(submission=best, hidden=True, reason="duplicate")
    client.force_login(users["alice"])
    response = client.post(reverse("competitions:submission_choose", args=[best.pk]), follow=True)
    assert "hidden by an instructor" in response.content.decode()
    assert not Submission.objects.get(pk=best.pk).is_final
    submission_set_flags(submission=best, hidden=False)
    assert Submission.objects.get(pk=best.pk).flag_reason == ""  # no flag, no reason


def test_moving_closes_at_into_the_future_reopens_and_says_so(client, users, competition):
    client.force_login(users["teacher"])
    client.post(reverse("competitions:competition_action", args=[competition.slug, "close"]))
    competition.refresh_from_db()
    assert competition.closed and not competition.accepts_submissions()
    later = timezone.localtime() + dt.timedelta(days=3)
    form = {
        "course": competition.course_id,
        "slug": competition.slug,
        "title": competition.title,
        "dataset": competition.dataset_id,
        "metric": "accuracy",
        "public_fraction": 0.5,
        "split_seed": 7,
        "opens_at": timezone.localtime(competition.opens_at).strftime("%Y-%m-%dT%H:%M"),
        "closes_at": later.strftime("%Y-%m-%dT%H:%M"),
        "daily_limit": 3,
        "total_limit": 10,
        "max_team_size": 2,
        "allowed_formats": ["onnx"],
        "time_limit_s": 60,
        "memory_mb": 3072,
        "visibility": "course",
        "queue": "cpu",
    }
    url = reverse("competitions:competition_edit", args=[competition.slug])
    page = client.post(url, form, follow=True).content.decode()
    competition.refresh_from_db()
    assert not competition.closed and competition.accepts_submissions()
    assert "It is open again: submissions are accepted until" in page
    assert "· closed" not in page


def test_closed_message_says_who_closed_it(users, competition, models):
    from competitions.services.submissions import competition_close

    competition_close(competition=competition)
    competition.refresh_from_db()
    with pytest.raises(Refused) as refused:
        submission_create(
            user=users["alice"], competition=competition, upload=upload(models["good"])
        )
    assert "closed by its instructors on" in refused.value.message
    assert "deadline" not in refused.value.message


def test_reopen_after_an_early_close(client, users, competition):
    client.force_login(users["teacher"])
    action = "competitions:competition_action"
    client.post(reverse(action, args=[competition.slug, "close"]))
    page = client.get(reverse("competitions:submissions", args=[competition.slug])).content
    assert b'id="reopen-competition"' in page
    page = client.post(reverse(action, args=[competition.slug, "reopen"]), follow=True).content
    competition.refresh_from_db()
    assert not competition.closed and b"Reopened: submissions are accepted until" in page
    # Past its close time, reopening asks for a later close time instead.
    Competition.objects.filter(pk=competition.pk).update(
        closed=True, closes_at=timezone.now() - dt.timedelta(minutes=1)
    )
    page = client.post(reverse(action, args=[competition.slug, "reopen"]), follow=True).content
    assert b"set a later close time to reopen it" in page
    assert Competition.objects.get(pk=competition.pk).closed


def test_destructive_actions_ask_first(client, users, competition, models):
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    client.force_login(users["teacher"])
    page = client.get(reverse("competitions:submissions", args=[competition.slug])).content
    assert page.count(b"data-confirm=") == 2  # close, rescore all
    page = client.get(reverse("competitions:submission", args=[sub.pk])).content
    assert b'id="flag-form"' in page and b"data-confirm=" in page
    token_create(user=users["teacher"], name="laptop")
    assert b"data-confirm=" in client.get(reverse("competitions:tokens")).content


def test_team_buttons_only_when_they_can_succeed(client, users, competition, models):
    client.force_login(users["alice"])
    url = reverse("competitions:detail", args=[competition.slug])
    page = client.get(url).content.decode()
    assert "Create team" in page and "Join team" in page
    submission_create(user=users["alice"], competition=competition, upload=upload(models["good"]))
    page = client.get(url).content.decode()
    assert "Create team" not in page and "Join team" not in page
    assert "You have already submitted alone" in page
    Competition.objects.filter(pk=competition.pk).update(closed=True)
    assert 'id="team-card"' not in client.get(url).content.decode()


def test_team_leave_hidden_after_the_team_submitted(client, users, competition, models):
    from competitions.services.teams import team_create

    team_create(competition=competition, user=users["bob"], name="Bees")
    client.force_login(users["bob"])
    url = reverse("competitions:detail", args=[competition.slug])
    assert "Leave team" in client.get(url).content.decode()
    submission_create(user=users["bob"], competition=competition, upload=upload(models["good"]))
    page = client.get(url).content.decode()
    assert "Leave team" not in page and "The team has submitted" in page


def test_quota_left_shown_and_form_disabled_at_the_limit(client, users, competition, models):
    Competition.objects.filter(pk=competition.pk).update(daily_limit=1)
    client.force_login(users["alice"])
    url = reverse("competitions:detail", args=[competition.slug])
    page = client.get(url).content.decode()
    assert "Submissions left: <strong>1</strong> of 1 today" in page
    assert "time or memory limit" in page and "do not count" in page  # the rule
    assert "<fieldset>" in page
    submission_create(user=users["alice"], competition=competition, upload=upload(models["good"]))
    page = client.get(url).content.decode()
    assert "<fieldset disabled>" in page and 'id="quota-blocked"' in page
    assert "Daily limit of 1 submissions reached" in page


def test_upload_limit_on_the_form_and_the_sites_page_when_over(client, users, competition):
    client.force_login(users["alice"])
    page = client.get(reverse("competitions:detail", args=[competition.slug])).content.decode()
    assert "at most 100 MB" in page and "files up to 100 MB" in page


def test_too_large_upload_gets_the_sites_page_and_the_api_its_json(
    client, users, competition, settings
):
    settings.PODIUM_MAX_UPLOAD_MB = 1
    client.force_login(users["alice"])
    big = upload(b"\0" * (2 * 1024 * 1024))
    response = client.post(reverse("competitions:submit", args=[competition.slug]), {"file": big})
    page = response.content.decode()
    assert response.status_code == 413 and response["Content-Type"].startswith("text/html")
    assert "over the 1 MB limit" in page and 'href="/c/digits/" id="go-back"' in page
    assert "alice" in page  # the site's page, the user still logged in
    _, key = token_create(user=users["alice"], name="t")
    big.seek(0)
    response = client.post(
        f"/api/competitions/{competition.slug}/submissions",
        {"file": big},
        headers={"authorization": f"Bearer {key}"},
    )
    assert response.status_code == 413 and response.json()["code"] == "too_large"


def test_refused_upload_keeps_choices_and_names_the_field(client, users, competition):
    client.force_login(users["alice"])
    url = reverse("competitions:submit", args=[competition.slug])
    form = {"preprocess": "custom", "mean": "0.5, x", "std": "0.25", "note": "try 2"}
    response = client.post(url, form | {"file": upload(b"m")})
    page = response.content.decode()
    assert response.status_code == 400
    assert re.search(r'<span class="field-error" role="alert">Mean: ', page)
    assert '<option value="custom" selected>' in page
    assert 'value="0.5, x"' in page and 'value="0.25"' in page and 'value="try 2"' in page
    assert "choose the file again" in page
    response = client.post(url, {"preprocess": "raw", "file": upload(b"not a model")})
    page = response.content.decode()
    assert "Refused:" in page and '<option value="raw" selected>' in page


def test_competition_form_labels_help_time_zone_and_errors_by_field(client, users, competition):
    client.force_login(users["teacher"])
    page = client.get(reverse("competitions:competition_new")).content.decode()
    assert "Time limit (s)" in page and "Memory (MB)" in page
    assert "date and time in UTC" in page
    assert "the held-out images the submissions are scored on" in page
    response = client.post(
        reverse("competitions:competition_new"),
        {"slug": "x", "title": "X", "public_fraction": 2, "time_limit_s": 1},
    )
    page = response.content.decode()
    fraction = page[page.index('name="public_fraction"') :]
    assert fraction.index("Between 0 and 1") < fraction.index("</p>")  # beside its field
    assert 'class="field has-error"' in page


def test_dataset_import_help_escaped_and_warnings_asked(client, users, course, tmp_path, dataset):
    client.force_login(users["teacher"])
    url = reverse("competitions:dataset_import")
    page = client.get(url).content.decode()
    assert "test/&lt;class&gt;/*.jpg" in page
    path = tmp_path / "shifted.npz"
    rng = np.random.default_rng(0)
    np.savez(
        path, X=rng.integers(0, 255, (100, 28, 28, 1), dtype=np.uint8), y=np.arange(100) % 10 + 20
    )
    response = client.post(url, {"name": "Shifted", "split": "test", "files": path.open("rb")})
    page = response.content.decode()
    assert "20 of 30 classes have no images" in page and "labels present run from 20 to 29" in page
    assert not HeldOutDataset.objects.filter(name="Shifted").exists()
    assert 'name="confirm"' in page
    response = client.post(
        url, {"name": "Shifted", "split": "test", "files": path.open("rb"), "confirm": "on"}
    )
    assert response.status_code == 302 and HeldOutDataset.objects.filter(name="Shifted").exists()


def test_reimporting_the_same_content_is_flagged(client, users, course, dataset, heldout_npz):
    client.force_login(users["teacher"])
    url = reverse("competitions:dataset_import")
    response = client.post(url, {"name": "Again", "split": "test", "files": heldout_npz.open("rb")})
    assert "already imported as &#x27;MNIST small&#x27;" in response.content.decode()
    assert not HeldOutDataset.objects.filter(name="Again").exists()
