"""Issue 15 in Chromium, where a person clicks: a disqualified final choice seen by both sides,
confirmations, close and reopen, the login redirect, refusals that keep the form, the quota at
its limit, a too-large file, dataset warnings. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import numpy as np
import pytest

from competitions.models import Competition, HeldOutDataset, Submission
from competitions.services.submissions import submission_choose_final, submission_create
from testsupport.browser import login, shot
from testsupport.web import scored_directly as scored
from testsupport.web import upload

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.browser]


def two_scored(users, competition, models) -> tuple[Submission, Submission]:
    best = submission_create(
        user=users["alice"],
        competition=competition,
        upload=upload(models["good"], "cnn (final).onnx"),
    )
    weaker = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["weak"])
    )
    return scored(best, 0.91), scored(weaker, 0.62)


def test_disqualify_asks_then_the_student_sees_reason_and_what_counts(
    page,
    browser,
    live_server,
    users,
    competition,
    models,
):
    base = live_server.url
    best, weaker = two_scored(users, competition, models)
    submission_choose_final(user=users["alice"], submission=weaker)
    login(page, base, "teacher", "pw-teacher-123")
    page.goto(f"{base}/s/{weaker.pk}/")
    page.fill("#flag-reason", "same file as another student")
    questions = []
    page.once("dialog", lambda d: (questions.append(d.message), d.dismiss()))
    page.click("#disqualify")
    page.wait_for_timeout(300)
    assert questions and "student sees" in questions[0]
    assert not Submission.objects.get(pk=weaker.pk).disqualified  # dismissed: nothing done
    page.once("dialog", lambda d: d.accept())
    page.click("#disqualify")
    page.wait_for_selector("text=Disqualified: off the standings")
    shot(page, "instructor-disqualified")

    student = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    login(student, base, "alice", "pw-alice-123")
    student.goto(f"{base}/c/{competition.slug}/")
    assert "chosen, but disqualified: does not count" in student.inner_text("#my-submissions")
    assert "cnn (final).onnx" in student.inner_text("#counts-now")
    student.goto(f"{base}/s/{weaker.pk}/")
    notice = student.inner_text("#flag-notice")
    assert "Disqualified by an instructor" in notice and "same file as another student" in notice
    assert student.locator("text=Use as final submission").count() == 0
    shot(student, "student-disqualified-notice")
    student.click("#counted-now")
    student.wait_for_url(f"{base}/s/{best.pk}/")
    student.context.close()


def test_close_asks_first_and_reopen_undoes_it(page, live_server, users, competition):
    base = live_server.url
    login(page, base, "teacher", "pw-teacher-123")
    page.goto(f"{base}/teach/c/{competition.slug}/submissions/")
    page.once("dialog", lambda d: d.dismiss())
    page.click("#close-competition")
    page.wait_for_timeout(300)
    assert not Competition.objects.get(pk=competition.pk).closed
    page.once("dialog", lambda d: d.accept())
    page.click("#close-competition")
    page.wait_for_selector("#reopen-competition")
    assert Competition.objects.get(pk=competition.pk).closed
    shot(page, "instructor-closed-reopen")
    page.click("#reopen-competition")
    page.wait_for_selector("text=Reopened: submissions are accepted until")
    assert Competition.objects.get(pk=competition.pk).accepts_submissions()


def test_logged_out_link_leads_through_login_to_the_competition(
    page, live_server, users, competition
):
    base = live_server.url
    page.goto(f"{base}/c/{competition.slug}/")
    page.wait_for_url(f"{base}/accounts/login/?next=/c/{competition.slug}/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "pw-alice-123")
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{base}/c/{competition.slug}/")
    assert page.inner_text("h1") == competition.title


def test_refused_upload_keeps_choices_and_says_to_choose_the_file_again(
    page,
    live_server,
    users,
    competition,
    tmp_path,
):
    base = live_server.url
    bad = tmp_path / "notes.onnx"
    bad.write_bytes(b"not a model")
    login(page, base, "alice", "pw-alice-123")
    page.goto(f"{base}/c/{competition.slug}/")
    page.set_input_files("#submit-form input[name=file]", str(bad))
    page.select_option("#submit-form select[name=preprocess]", "custom")
    page.fill("#submit-form input[name=mean]", "0.5, oops")
    page.fill("#submit-form input[name=std]", "0.25")
    page.click("#submit-form button[type=submit]")
    page.wait_for_selector(".field-error")
    assert page.inner_text(".field-error").startswith("Mean:")
    assert page.input_value("#submit-form select[name=preprocess]") == "custom"
    assert page.input_value("#submit-form input[name=std]") == "0.25"
    assert "choose the file again" in page.inner_text("#file-again")
    assert page.url == f"{base}/c/{competition.slug}/"  # the refusal is not an address to reload
    shot(page, "student-refused-form")


def test_quota_at_its_limit_disables_the_form(page, live_server, users, competition, models):
    Competition.objects.filter(pk=competition.pk).update(daily_limit=1)
    submission_create(user=users["alice"], competition=competition, upload=upload(models["good"]))
    login(page, live_server.url, "alice", "pw-alice-123")
    page.goto(f"{live_server.url}/c/{competition.slug}/")
    assert "0 of 1 today" in page.inner_text("#quota")
    assert page.is_disabled("#submit-form button[type=submit]")
    assert "Daily limit of 1 submissions reached" in page.inner_text("#quota-blocked")
    shot(page, "student-quota-used")


def test_too_large_file_gets_the_sites_page_with_a_way_back(
    page,
    live_server,
    users,
    competition,
    settings,
    tmp_path,
):
    settings.PODIUM_MAX_UPLOAD_MB = 1
    big = tmp_path / "big.onnx"
    big.write_bytes(b"\0" * (3 * 1024 * 1024))
    login(page, live_server.url, "alice", "pw-alice-123")
    page.goto(f"{live_server.url}/c/{competition.slug}/")
    assert "at most 1 MB" in page.inner_text("#submit-form")
    page.set_input_files("#submit-form input[name=file]", str(big))
    page.click("#submit-form button[type=submit]")
    page.wait_for_selector("#too-large")
    assert "over the 1 MB limit" in page.inner_text("#too-large")
    shot(page, "student-too-large")
    page.click("#go-back")
    page.wait_for_url(f"{live_server.url}/c/{competition.slug}/")


def test_dataset_with_empty_classes_is_imported_only_when_confirmed(
    page,
    live_server,
    users,
    course,
    tmp_path,
):
    path = tmp_path / "shifted.npz"
    rng = np.random.default_rng(0)
    np.savez(
        path, X=rng.integers(0, 255, (100, 28, 28, 1), dtype=np.uint8), y=np.arange(100) % 10 + 20
    )
    login(page, live_server.url, "teacher", "pw-teacher-123")
    page.goto(f"{live_server.url}/teach/datasets/import/")
    assert "test/<class>/*.jpg" in page.inner_text("#dataset-form")
    page.fill("#dataset-form input[name=name]", "Shifted labels")
    page.set_input_files("#dataset-form input[name=files]", str(path))
    page.click("#dataset-form button[type=submit]")
    page.wait_for_selector("#dataset-warnings")
    assert "20 of 30 classes have no images" in page.inner_text("#dataset-warnings")
    assert not HeldOutDataset.objects.filter(name="Shifted labels").exists()
    shot(page, "instructor-dataset-warnings")
    page.set_input_files("#dataset-form input[name=files]", str(path))
    page.check("#dataset-form input[name=confirm]")
    page.click("#dataset-form button[type=submit]")
    page.wait_for_selector("#n-images")
    assert HeldOutDataset.objects.filter(name="Shifted labels").exists()
