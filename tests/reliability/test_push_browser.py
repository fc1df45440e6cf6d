"""Server push in a real browser: the submission page of a queued submission holds an event
stream (hypercorn, as `make demo` serves it), sends no polling request while nothing changes,
and shows the score when the worker commits it, from the event itself (no request for the
status); an open leaderboard shows the new row."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import pytest

from testsupport.browser import login
from testsupport.procs import wait_for
from testsupport.reliability import competition, row, submit
from testsupport.stack import seed

CHROMIUM = os.environ.get("PODIUM_CHROMIUM", "/usr/bin/chromium")

pytestmark = [pytest.mark.slow, pytest.mark.browser]
STATIC_LOADED = """() => performance.getEntriesByType('resource').map((e) => e.name)
  .filter((n) => n.includes('/static/'))"""
STATIC_FETCHED = """() => performance.getEntriesByType('resource')
  .filter((e) => e.name.includes('/static/') && e.transferSize > 0).map((e) => e.name)"""


@pytest.fixture
def page():
    if not Path(CHROMIUM).exists():
        reason = f"browser test skipped: {CHROMIUM} not found (apt-get install -y chromium)"
        warnings.warn(reason, stacklevel=1)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        pg = browser.new_context().new_page()
        pg.set_default_timeout(30_000)
        yield pg
        browser.close()


def test_the_score_arrives_by_push_without_polling(make_stack, rel_data, page):
    stack = make_stack()
    tokens = seed(stack, npz=rel_data["npz"], users=1, competitions=[competition()])
    stack.start_web(asgi=True)
    sid = submit(stack, tokens, rel_data["good"])  # no worker yet: it stays queued
    base = stack.web_url

    status_requests: list[float] = []
    page.on(
        "request",
        lambda r: status_requests.append(time.monotonic()) if "/status/" in r.url else None,
    )
    login(page, base, "student000", "pw-student-123")
    page.goto(f"{base}/s/{sid}/")
    page.wait_for_selector("body[data-push=open]")  # the stream is open
    assert page.locator("[data-testid=public-score]").count() == 0
    assert page.evaluate("typeof window.Chart") == "undefined"  # no chart to draw yet
    time.sleep(4.0)
    # The page shows the state the stream found on opening: not even an opening refresh.
    assert status_requests == [], "the page fetched its status while nothing changed"

    board = page.context.new_page()  # the leaderboard, open before the result exists
    board.goto(f"{base}/c/digits/leaderboard/")
    board.wait_for_selector("body[data-push=open]")
    # Scripts and styles the first page loaded come from the browser's cache, not asked again
    # (each static URL names its file's version: config/static.py).
    loaded = set(page.evaluate(STATIC_LOADED))
    asked_again = [u for u in board.evaluate(STATIC_FETCHED) if u in loaded]
    assert loaded and asked_again == [], asked_again
    assert board.locator("tr[data-name=student000]").count() == 0

    stack.start_worker("w1", "cpu")
    score = page.locator("[data-testid=public-score]")
    score.wait_for(timeout=90_000)
    graded = wait_for(
        lambda: row(stack, sid) if row(stack, sid)["status"] == "scored" else None, 30, "scored"
    )
    assert score.inner_text() == f"{graded['public_score']:.4f}"
    # Chart.js is fetched once the diagram arrives with the score, and draws it.
    page.wait_for_function("() => window.Chart && Chart.getChart('reliability-chart')")
    assert page.evaluate("document.body.dataset.push") == "open"  # never fell back to polling
    assert status_requests == [], "the status came in the event: nothing to fetch"
    board.locator("tr[data-name=student000]").wait_for(timeout=30_000)  # pushed there too


def test_the_submit_form_swaps_in_the_submission_page_and_the_score_arrives(
    make_stack, rel_data, page, tmp_path
):
    """The form is boosted (htmx): the browser keeps its document, shows the submission page
    under its own address, and the pushed score; Back shows the competition page again."""
    stack = make_stack()
    seed(stack, npz=rel_data["npz"], users=1, competitions=[competition()])
    stack.start_web(asgi=True)
    stack.start_worker("w1", "cpu")
    base = stack.web_url
    model = tmp_path / "good.onnx"
    model.write_bytes(rel_data["good"])
    login(page, base, "student000", "pw-student-123")
    page.goto(f"{base}/c/digits/")
    page.evaluate("() => { window.sameDocument = true; }")
    page.set_input_files("#submit-form input[name=file]", str(model))
    page.click("#submit-form button[type=submit]")
    page.wait_for_url(f"{base}/s/**")
    page.locator("[data-testid=public-score]").wait_for(timeout=90_000)
    assert page.evaluate("window.sameDocument === true")  # swapped in, not loaded
    assert page.title().startswith("Submission good.onnx")
    assert page.evaluate("document.body.dataset.push") == "open"
    page.go_back()
    page.wait_for_url(f"{base}/c/digits/")
    page.locator("#submit-form").wait_for()
