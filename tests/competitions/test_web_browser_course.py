"""Running a course, in a real browser: a new student's first day against a real SMTP server (the
instructor imports the roster, the invitation arrives by SMTP, its link sets a password), and the
staff log (an instructor disqualifies a worker-graded submission with a reason; the log and the
student show it). Skipped (with the reason) without chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from testsupport.browser import login
from testsupport.mail import SmtpServer

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def smtp(tmp_path):
    server = SmtpServer(tmp_path)
    yield server
    server.stop()


def test_invited_student_sets_password_from_the_smtp_mail_and_sees_the_competitions(
    browser, live_server, settings, smtp, users, course, competition, tmp_path
):
    settings.MAILERS = {"default": smtp.mailer()}
    base = live_server.url
    roster = tmp_path / "roster.csv"
    roster.write_text("username,email,first_name\nnewbie,newbie@example.org,Nora\n")

    teacher = browser.new_context().new_page()
    teacher.set_default_timeout(30_000)
    login(teacher, base, "teacher", "pw-teacher-123")
    teacher.goto(f"{base}/teach/courses/{course.slug}/roster/")
    teacher.set_input_files("#roster-form input[name=csv_file]", str(roster))
    teacher.click("#roster-form button[type=submit]")
    teacher.wait_for_selector("text=1 new; 1 e-mails sent")
    row = teacher.locator('tr[data-username="newbie"] .account-state')
    assert "not activated: invitation pending" in row.inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    teacher.screenshot(path=str(SHOTS / "roster-invited.png"), full_page=True)

    mail = smtp.wait_message("newbie@example.org")
    assert "your account for ML 101" in str(mail["Subject"])
    body = mail.get_payload(decode=True).decode()
    link = re.search(r"(http://\S+/invite/\S+/)", body)
    assert link, body

    student = browser.new_context().new_page()
    student.set_default_timeout(30_000)
    student.goto(link.group(1))
    assert student.inner_text("#invited-username") == "newbie"
    student.fill("input[name=new_password1]", "a-Good-pass-42")
    student.fill("input[name=new_password2]", "a-Good-pass-42")
    student.click("#invitation-form button[type=submit]")
    student.wait_for_url(f"{base}/")
    student.wait_for_selector(f"text={competition.title}")
    student.screenshot(path=str(SHOTS / "invited-student-home.png"), full_page=True)

    again = browser.new_context().new_page()
    login(again, base, "newbie", "a-Good-pass-42")
    assert competition.title in again.content()
    teacher.reload()
    assert teacher.locator('tr[data-username="newbie"] .account-state').inner_text() == "active"


def _alice_submits_and_it_is_scored(browser, base: str, competition, models, tmp_path):
    """Alice uploads a model from the competition page; the suite's worker scores it."""
    model = tmp_path / "alice.onnx"
    model.write_bytes(models["good"])
    alice = browser.new_context().new_page()
    alice.set_default_timeout(30_000)
    login(alice, base, "alice", "pw-alice-123")
    alice.goto(f"{base}/c/{competition.slug}/")
    alice.set_input_files("#submit-form input[name=file]", str(model))
    alice.click("#submit-form button[type=submit]")
    alice.wait_for_url(f"{base}/s/**")
    alice.wait_for_selector('[data-status="scored"]', timeout=90_000)
    return alice


def test_disqualify_with_reason_shows_in_the_staff_log_and_to_the_student(
    browser, live_server, users, course, competition, models, celery_worker, tmp_path
):
    base = live_server.url
    alice = _alice_submits_and_it_is_scored(browser, base, competition, models, tmp_path)
    submission_url = alice.url

    teacher = browser.new_context().new_page()
    teacher.set_default_timeout(30_000)
    login(teacher, base, "teacher", "pw-teacher-123")
    teacher.goto(submission_url)
    teacher.on("dialog", lambda dialog: dialog.accept())  # "Remove this submission ...?"
    teacher.fill("#flag-reason", "same weights as bob's upload")
    teacher.click("#disqualify")
    teacher.wait_for_selector("text=Disqualified: off the standings")
    teacher.goto(f"{base}/teach/")
    teacher.click("text=Staff log")
    teacher.select_option("#audit-filter select[name=action]", "disqualify")
    teacher.click("#audit-filter button[type=submit]")
    row = teacher.locator("#audit tr.audit-disqualify")
    assert row.count() == 1
    assert "same weights as bob's upload" in row.inner_text() and "alice" in row.inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    teacher.screenshot(path=str(SHOTS / "instructor-staff-log.png"), full_page=True)

    alice.reload()
    actions = alice.inner_text("#staff-actions")
    assert "disqualified a submission" in actions and "same weights as bob's upload" in actions
    # The bell counts the score and the disqualification; its list shows the reason.
    assert alice.inner_text("#unread") == "2"
    alice.click("#bell")
    listed = alice.inner_text("#notifications")
    assert "was disqualified" in listed and "same weights as bob's upload" in listed
    assert "scored" in listed
    alice.screenshot(path=str(SHOTS / "student-notifications.png"), full_page=True)


def test_instructor_grants_an_exception_and_the_student_sees_it(
    browser, live_server, users, course, competition
):
    base = live_server.url
    teacher = browser.new_context().new_page()
    teacher.set_default_timeout(30_000)
    login(teacher, base, "teacher", "pw-teacher-123")
    teacher.goto(f"{base}/c/{competition.slug}/")
    teacher.click("text=Exceptions")
    form = "#exception-form"
    teacher.fill(f"{form} input[name=username]", "alice")
    teacher.fill(f"{form} input[name=extra_total]", "3")
    teacher.fill(f"{form} textarea[name=reason]", "uploads lost in the outage")
    teacher.click(f"{form} button[type=submit]")
    teacher.wait_for_selector("text=Exception granted to alice")
    assert "uploads lost in the outage" in teacher.inner_text("#exceptions")
    SHOTS.mkdir(parents=True, exist_ok=True)
    teacher.screenshot(path=str(SHOTS / "instructor-exceptions.png"), full_page=True)

    alice = browser.new_context().new_page()
    alice.set_default_timeout(30_000)
    login(alice, base, "alice", "pw-alice-123")
    alice.goto(f"{base}/c/{competition.slug}/")
    note = alice.inner_text("#my-extension")
    assert "3 more in all" in note and "uploads lost in the outage" in note
    assert "of 13 in total" in alice.inner_text("#quota")


def test_grade_policy_set_in_the_form_grades_a_worker_scored_entry_in_the_csv(
    browser, live_server, users, course, competition, models, celery_worker, tmp_path
):
    import csv
    import io

    base = live_server.url
    _alice_submits_and_it_is_scored(browser, base, competition, models, tmp_path)

    teacher = browser.new_context(accept_downloads=True).new_page()
    teacher.set_default_timeout(30_000)
    login(teacher, base, "teacher", "pw-teacher-123")
    teacher.goto(f"{base}/teach/c/{competition.slug}/edit/")
    form = "#competition-form"
    teacher.select_option(f"{form} select[name=late_policy]", "penalty")
    teacher.fill(f"{form} input[name=late_penalty_pct]", "20")
    teacher.fill(
        f"{form} textarea[name=grade_policy]",
        '{"kind": "thresholds", "steps": [[0.5, 100], [0.2, 60]], "none": 10}',
    )
    teacher.click(f"{form} button[type=submit]")
    teacher.wait_for_url(f"{base}/c/{competition.slug}/")
    teacher.goto(f"{base}/teach/c/{competition.slug}/submissions/")
    teacher.on("dialog", lambda dialog: dialog.accept())  # "Close ... now?"
    teacher.fill("input[name=reason] >> nth=0", "end of term")
    teacher.click("#close-competition")
    teacher.wait_for_selector("text=Closed: the private leaderboard")
    with teacher.expect_download() as info:
        teacher.click("#grades-csv")
    rows = {
        r["username"]: r for r in csv.DictReader(io.StringIO(Path(info.value.path()).read_text()))
    }
    assert float(rows["alice"]["final_private_score"]) > 0.5
    assert rows["alice"]["grade"] == "100.0" and rows["bob"]["grade"] == "10.0"
    assert "no scored entry → 10" in rows["bob"]["grade_policy"]
