"""Debian's Chromium driven by Playwright, for the browser tests (Playwright cannot download its
own browsers here). Skips the test, saying why, when /usr/bin/chromium is missing."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("PODIUM_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched browser; the test body may use the ORM while Playwright's loop runs."""
    if not Path(CHROMIUM).exists():
        reason = f"browser tests skipped: {CHROMIUM} not found (apt-get install -y chromium)"
        warnings.warn(reason, stacklevel=1)  # shown in the warnings summary, even with -q
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                yield browser
            finally:
                browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
