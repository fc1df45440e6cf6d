"""Issue 15's instructor views in Chromium: the submissions list searched, filtered and sorted."""

from __future__ import annotations

import pytest

from competitions.services.submissions import submission_create, submission_set_flags
from testsupport.browser import login, overflow_px, shot
from testsupport.web import scored_directly, upload

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.browser]


def test_submissions_list_search_filter_and_sort(page, live_server, users, competition, models):
    for who, score in (("alice", 0.7), ("bob", 0.9), ("bob", 0.5)):
        sub = submission_create(
            user=users[who], competition=competition, upload=upload(models["good"])
        )
        scored_directly(sub, score)
    later = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["weak"], "later.onnx")
    )
    submission_set_flags(submission=later, disqualified=True, reason="copied")
    login(page, live_server.url, "teacher", "pw-teacher-123")
    page.goto(f"{live_server.url}/teach/c/{competition.slug}/submissions/")
    assert page.locator("#submissions tr[data-user]").count() == 4
    page.fill("#submission-filters input[name=q]", "bob")
    page.select_option("#submission-filters select[name=sort]", "best")
    page.click("#submission-filters button[type=submit]")
    page.wait_for_url("**q=bob**")
    rows = page.locator("#submissions tr[data-user]")
    assert rows.count() == 2 and {rows.nth(i).get_attribute("data-user") for i in range(2)} == {
        "bob"
    }
    assert "0.9000" in rows.nth(0).inner_text() and "0.5000" in rows.nth(1).inner_text()
    assert page.input_value("#submission-filters input[name=q]") == "bob"  # the form keeps it
    shot(page, "instructor-submissions-filtered")
    page.fill("#submission-filters input[name=q]", "")
    page.select_option("#submission-filters select[name=flag]", "disqualified")
    page.click("#submission-filters button[type=submit]")
    page.wait_for_url("**flag=disqualified**")
    rows = page.locator("#submissions tr[data-user]")
    assert rows.count() == 1 and "later.onnx" in rows.nth(0).inner_text()
    assert "1 submission." in page.inner_text("#submission-count")


def test_rules_written_in_markdown_reach_students_sanitised(
    browser, page, live_server, users, competition
):
    base = live_server.url
    login(page, base, "teacher", "pw-teacher-123")
    page.goto(f"{base}/teach/c/{competition.slug}/edit/")
    assert "Markdown" in page.inner_text("#competition-form")
    page.fill(
        "#competition-form textarea[name=rules]",
        "1. **One** account each.\n2. No training on the test set.\n\n<script>window.pwned = 1</script>",
    )
    page.click("#competition-form button[type=submit]")
    page.wait_for_url(f"{base}/c/{competition.slug}/")
    student = browser.new_context().new_page()
    login(student, base, "alice", "pw-alice-123")
    student.goto(f"{base}/c/{competition.slug}/")
    items = student.locator("#rules ol li")
    assert items.count() == 2 and items.nth(0).inner_html() == "<strong>One</strong> account each."
    assert student.evaluate("() => window.pwned") is None
    assert "<script>window.pwned = 1</script>" in student.inner_text("#rules")  # shown, not run
    shot(student, "student-rules")
    student.context.close()


def test_participation_lists_who_has_not_entered_and_plots_progress(
    browser, page, live_server, users, competition, models
):
    for score in (0.6, 0.8, 0.7):
        sub = submission_create(
            user=users["alice"], competition=competition, upload=upload(models["good"])
        )
        scored_directly(sub, score)
    base = live_server.url
    login(page, base, "teacher", "pw-teacher-123")
    page.goto(f"{base}/teach/c/{competition.slug}/submissions/")
    page.click("#participation-link")
    page.wait_for_selector("#participation")
    assert "1 of 2 students have no scored entry" in page.inner_text("#missing")
    rows = page.locator("#participation tbody tr")
    assert rows.nth(0).get_attribute("data-user") == "bob"  # the one to reach out to, first
    assert "no scored entry" in rows.nth(0).inner_text()
    page.wait_for_function("() => Chart.getChart('per-day')")
    assert page.evaluate("() => Chart.getChart('per-day').data.datasets[0].data") == [3]
    shot(page, "instructor-participation")
    page.click("#participation a:text('alice')")
    page.wait_for_function("() => Chart.getChart('progress')")
    best = page.evaluate("() => Chart.getChart('progress').data.datasets[1].data")
    assert best == [0.6, 0.8, 0.8]  # the best so far
    shot(page, "instructor-student-progress")
    phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    login(phone, base, "teacher", "pw-teacher-123")
    for path in ("participation/", "students/alice/", "similarity/"):
        phone.goto(f"{base}/teach/c/{competition.slug}/{path}")
        assert overflow_px(phone) <= 0, path
    phone.context.close()


def test_announcement_posted_by_the_instructor_reaches_the_competition_page(
    browser, page, live_server, users, competition
):
    base = live_server.url
    login(page, base, "teacher", "pw-teacher-123")
    page.goto(f"{base}/teach/c/{competition.slug}/submissions/")
    page.click("summary:text('Post an announcement')")
    page.fill("#announce-title", "Deadline moved")
    page.fill("#announce-body", "The competition now closes **on Friday**.")
    page.click("#announce-form button[type=submit]")
    page.wait_for_url(f"{base}/c/{competition.slug}/")
    student = browser.new_context().new_page()
    login(student, base, "alice", "pw-alice-123")
    student.goto(f"{base}/c/{competition.slug}/")
    news = student.locator("#announcements article")
    assert news.count() == 1 and "Deadline moved" in news.inner_text()
    assert news.locator("strong").inner_text() == "on Friday"
    data = student.inner_text("#data")
    assert "400 held-out images of 28×28 pixels" in data and "10 classes" in data
    shot(student, "student-announcement")
    student.context.close()
