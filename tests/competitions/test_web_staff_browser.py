"""Issue 15's remaining instructor and student pages in Chromium, reached by clicking: the staff
status page, the similarity signals page, and the starter kit download."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from competitions.services.submissions import submission_create
from testsupport.browser import login, shot
from testsupport.web import scored_directly, upload

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.browser]


def test_staff_reach_the_queue_status_page_from_teach(
    page, live_server, users, competition, models
):
    users["teacher"].is_staff = True
    users["teacher"].save()
    login(page, live_server.url, "teacher", "pw-teacher-123")
    page.goto(f"{live_server.url}/teach/")
    page.click("#status-link")
    page.wait_for_url("**/teach/status/")
    # One row per queue (its depth, what runs, the oldest wait: test_web_status.py checks the
    # figures; a worker the suite started may be grading here, so no count is asserted).
    for queue in ("cpu", "gpu"):
        assert page.locator(f'[data-queue="{queue}"]').count() >= 1
    shot(page, "staff-status")


def test_the_same_file_from_two_students_shows_on_the_similarity_page(
    page, live_server, users, competition, models
):
    for who in ("alice", "bob"):
        sub = submission_create(
            user=users[who], competition=competition, upload=upload(models["good"], f"{who}.onnx")
        )
        scored_directly(sub, 0.8)
    login(page, live_server.url, "teacher", "pw-teacher-123")
    page.goto(f"{live_server.url}/teach/c/{competition.slug}/submissions/")
    page.click("#similarity-link")
    row = page.locator('[data-signal="same_file"]')
    row.first.wait_for()
    text = row.first.inner_text()
    assert "alice" in text and "bob" in text
    shot(page, "instructor-similarity")


def test_a_student_downloads_the_starter_kit_from_the_competition_page(
    page, live_server, users, competition
):
    login(page, live_server.url, "alice", "pw-alice-123")
    page.goto(f"{live_server.url}/c/{competition.slug}/")
    with page.expect_download() as info:
        page.click("#starter-kit")
    names = zipfile.ZipFile(io.BytesIO(Path(info.value.path()).read_bytes())).namelist()
    assert any(n.endswith("README.md") for n in names)
    assert {Path(n).suffix for n in names} >= {".py", ".md"}
    assert sum(n.endswith(".py") for n in names) >= 3  # NumPy, PyTorch and Keras scripts
