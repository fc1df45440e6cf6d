"""Browser tests: Playwright driving Debian's chromium against a live server and a real worker.

Fixtures and helpers: testsupport/browser.py (screenshots of every page visited go to
artifacts/screenshots/; skipped with the reason when /usr/bin/chromium is missing).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from testsupport.browser import login, shot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.browser]


def test_student_uploads_watches_score_and_finds_leaderboard_row(
    page, live_server, users, competition, models, celery_worker, tmp_path
):
    base = live_server.url
    model = tmp_path / "student.onnx"
    model.write_bytes(models["good"])
    login(page, base, "alice", "pw-alice-123")
    shot(page, "student-home")
    page.click(f"text={competition.title}")
    page.wait_for_url(f"{base}/c/{competition.slug}/")
    shot(page, "student-competition")
    page.set_input_files("#submit-form input[name=file]", str(model))
    page.select_option("#submit-form select[name=preprocess]", "unit")
    page.fill("#submit-form input[name=note]", "from the browser")
    page.click("#submit-form button[type=submit]")
    page.wait_for_url(f"{base}/s/**")
    shot(page, "student-submission-queued")
    # htmx polls the status fragment: no reload needed for it to turn "scored".
    page.wait_for_selector('[data-status="scored"]', timeout=60_000)
    score = page.inner_text("#public-score")
    assert score.startswith("0.")
    shot(page, "student-submission-scored")
    page.click("text=Leaderboard")
    row = page.locator('#leaderboard tr[data-name="alice"]')
    row.wait_for()
    assert score in row.inner_text()
    shot(page, "student-leaderboard")


def test_instructor_creates_competition_imports_dataset_closes_and_downloads_csv(
    page, live_server, users, course, heldout_npz, tmp_path
):
    base = live_server.url
    login(page, base, "teacher", "pw-teacher-123")
    page.goto(f"{base}/teach/")
    shot(page, "instructor-dashboard")
    page.click("text=Import a dataset")
    page.fill("#dataset-form input[name=name]", "Browser MNIST")
    page.set_input_files("#dataset-form input[name=files]", str(heldout_npz))
    shot(page, "instructor-dataset-import")
    page.click("#dataset-form button[type=submit]")
    page.wait_for_selector("#n-images")
    assert page.inner_text("#n-images") == "400"
    # The preview grid is served from private storage by a permission-checking view.
    page.wait_for_function(
        "() => { const i = document.querySelector('img.preview'); return i && i.complete && i.naturalWidth > 0; }"
    )
    shot(page, "instructor-dataset-detail")

    page.goto(f"{base}/teach/new/")
    form = "#competition-form"
    page.select_option(f"{form} select[name=course]", label=course.name)
    page.fill(f"{form} input[name=slug]", "browser-comp")
    page.fill(f"{form} input[name=title]", "Browser competition")
    page.select_option(f"{form} select[name=dataset]", label="Browser MNIST (400 images)")
    closes = timezone.localtime() + dt.timedelta(days=2)
    page.fill(f"{form} input[name=closes_at]", closes.strftime("%Y-%m-%dT%H:%M"))
    shot(page, "instructor-competition-form")
    page.click(f"{form} button[type=submit]")
    page.wait_for_url(f"{base}/c/browser-comp/")
    shot(page, "instructor-competition")

    page.click("text=All submissions")
    page.wait_for_selector("#close-competition")
    shot(page, "instructor-submissions")
    page.once("dialog", lambda dialog: dialog.accept())  # closing asks first
    page.click("#close-competition")
    page.wait_for_selector("text=Closed: the private leaderboard")
    shot(page, "instructor-closed")
    with page.expect_download() as info:
        page.click("#standings-csv")
    standings = Path(info.value.path()).read_text()
    assert standings.startswith("rank,name,kind,score")
    with page.expect_download() as info:
        page.click("#grades-csv")
    grades = Path(info.value.path()).read_text().splitlines()
    assert grades[0].startswith("username,email,name,team,final_private_score,rank")
    assert {line.split(",")[0] for line in grades[1:]} == {"alice", "bob"}
    (tmp_path / "grades.csv").write_text("\n".join(grades))
