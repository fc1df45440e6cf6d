"""`python -m bench.push`: from a result's commit to the score on the student's screen, in a real
browser (Playwright + Chromium), with server push (hypercorn, the event stream) against the
polling it replaced (gunicorn: the stream answers 204, the page polls every second), each on a
private stack in the same run.

Each sample: a submission of a model that grades for a few seconds (testsupport.hostile's slow
model), its page opened while it is queued or running, and the time from the row's `finished_at`
(written in the result's transaction) to the moment the page's `data-testid="public-score"`
element appears (a MutationObserver's Date.now(); same machine, same clock).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from testsupport.hostile import slow_model
from testsupport.mnist import mnist_subset_npz
from testsupport.reliability import competition, row, submit
from testsupport.stack import Stack, seed

CHROMIUM = os.environ.get("PODIUM_CHROMIUM", "/usr/bin/chromium")
WATCH = """() => new Promise((resolve) => {
  const seen = () => document.querySelector('[data-testid="public-score"]');
  if (seen()) return resolve(Date.now());
  new MutationObserver((_, obs) => { if (seen()) { obs.disconnect(); resolve(Date.now()); } })
    .observe(document.body, { childList: true, subtree: true });
})"""


def _when(value: object) -> dt.datetime:
    at = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def measure(workdir: Path, *, asgi: bool, samples: int, model: bytes, npz: Path) -> list[float]:
    from playwright.sync_api import sync_playwright

    with Stack(workdir) as stack, sync_playwright() as p:
        stack.migrate()
        tokens = seed(stack, npz=npz, users=1, competitions=[competition()])
        stack.start_web(asgi=asgi)
        stack.start_worker("w1", "cpu")
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_context().new_page()
        base = stack.web_url
        page.goto(f"{base}/accounts/login/")
        page.fill("input[name=username]", "student000")
        page.fill("input[name=password]", "pw-student-123")
        page.click("#login-form button[type=submit]")
        page.wait_for_url(f"{base}/")
        latencies = []
        for _ in range(samples):
            sid = submit(stack, tokens, model)
            page.goto(f"{base}/s/{sid}/")
            shown_ms = page.evaluate(WATCH)  # resolves when the score appears
            done = row_done(stack, sid)
            assert done is not None, "the page showed a score the row does not have"
            latencies.append(shown_ms - _when(done).timestamp() * 1000)
        browser.close()
    return latencies


def row_done(stack: Stack, sid: str) -> object | None:
    r = row(stack, sid)
    if r["status"] != "scored":
        return None
    hexid = sid.replace("-", "")
    found = stack.sql(
        "SELECT finished_at FROM competitions_submission"
        f" WHERE REPLACE(CAST(id AS TEXT), '-', '') = '{hexid}'"
    )
    return found[0][0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="podium-push-"))
    npz = mnist_subset_npz(workdir / "mnist500.npz", 500)
    model = slow_model(8000)
    print(f"{'server':<28}{'p50 ms':>9}{'max ms':>9}  samples")
    for name, asgi in (("push (hypercorn, stream)", True), ("polling (gunicorn, 1 s)", False)):
        got = measure(
            workdir / name.split()[0], asgi=asgi, samples=args.samples, model=model, npz=npz
        )
        print(
            f"{name:<28}{statistics.median(got):>9.0f}{max(got):>9.0f}  "
            + ", ".join(f"{x:.0f}" for x in got)
        )
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
