"""Static URLs under DEBUG carry their file's version (config/static.py), so the browser keeps
the files instead of asking again on every page (checked in a browser by
tests/reliability/test_push_browser.py)."""

from __future__ import annotations

import os

from django.contrib.staticfiles import finders

from config.static import VersionedStaticFilesStorage


def test_a_static_url_names_its_files_version_and_a_changed_file_gets_a_new_url(settings, tmp_path):
    settings.STATICFILES_DIRS = [tmp_path]
    finders.get_finder.cache_clear()
    script = tmp_path / "app.js"
    script.write_text("one();")
    try:
        storage = VersionedStaticFilesStorage()
        first = storage.url("app.js")
        assert first.startswith("/static/app.js?v=")
        assert storage.url("app.js") == first  # the same file: the same URL
        script.write_text("two(); three();")
        os.utime(script, ns=(1, 1))  # whatever the clock: a different stamp and size
        assert storage.url("app.js") != first
        assert storage.url("missing.js") == "/static/missing.js"  # nothing to version
    finally:
        finders.get_finder.cache_clear()
