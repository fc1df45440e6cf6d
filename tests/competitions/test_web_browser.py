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


def test_student_declares_preprocessing_and_layout_and_sees_a_contradiction_refused(
    page, live_server, users, competition, models, tmp_path
):
    from competitions.models import Submission
    from grader.errors import Rejected
    from grader.preprocess import declaration_checked

    base = live_server.url
    model = tmp_path / "student.onnx"
    model.write_bytes(models["good"])
    login(page, base, "alice", "pw-alice-123")
    page.goto(f"{base}/c/{competition.slug}/")
    page.set_input_files("#submit-form input[name=file]", str(model))
    page.select_option("#submit-form select[name=preprocess]", "custom")  # mean/std left empty
    page.select_option("#submit-form select[name=layout]", "nchw")
    page.click("#submit-form button[type=submit]")
    page.wait_for_selector(".field-error")  # the page comes back with the choices kept
    with pytest.raises(Rejected) as refused:
        declaration_checked("custom", "", "")
    assert refused.value.message in page.inner_text("body")
    shot(page, "student-declaration-refused")
    assert not Submission.objects.exists()
    page.set_input_files("#submit-form input[name=file]", str(model))
    page.select_option("#submit-form select[name=preprocess]", "custom")
    page.fill("#submit-form input[name=mean]", "0")
    page.fill("#submit-form input[name=std]", "1")
    page.select_option("#submit-form select[name=layout]", "nchw")
    page.click("#submit-form button[type=submit]")
    page.wait_for_url(f"{base}/s/**")
    sub = Submission.objects.get()
    assert (sub.preprocess, sub.mean, sub.std, sub.layout) == ("custom", [0.0], [1.0], "nchw")
    assert "layout nchw" in page.inner_text("body")


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


def test_student_uploads_a_keras_file_as_saved_and_sees_its_layers(
    page, live_server, users, competition, celery_worker
):
    """The student path the README shows: model.save('model.keras'), then upload that file."""
    from competitions.models import Submission

    competition.allowed_formats = ["onnx", "npz", "keras"]
    competition.save(update_fields=["allowed_formats"])
    model = Path(__file__).resolve().parents[1] / "grader" / "keras_fixtures" / "mnist_k3.keras"
    base = live_server.url
    login(page, base, "alice", "pw-alice-123")
    page.goto(f"{base}/c/{competition.slug}/")
    page.set_input_files("#submit-form input[name=file]", str(model))
    page.click("#submit-form button[type=submit]")
    page.wait_for_url(f"{base}/s/**")
    page.wait_for_selector('[data-status="scored"]', timeout=60_000)
    page.reload()
    shot(page, "student-keras-submission-scored")
    text = page.inner_text("body")
    assert "conv2d" in text and "max_pooling2d" in text  # the Keras layer names
    assert "raw 0..255 pixels" in text  # the model's own Rescaling, said
    sub = Submission.objects.get(user=users["alice"])
    assert (
        sub.file_format == "keras" and page.inner_text("#public-score") == f"{sub.public_score:.4f}"
    )
