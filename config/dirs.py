"""The writable directories the settings name, made when Django starts (never at settings import).

Called from competitions' AppConfig.ready(), so every process that sets Django up (manage.py, the
web server, the Celery worker, the test run) has them before it needs them.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


def var_dirs_create() -> None:
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        Path(db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        test_name = db.get("TEST", {}).get("NAME")
        if test_name:
            Path(test_name).parent.mkdir(parents=True, exist_ok=True)
    if settings.DEBUG:
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # whitenoise warns otherwise
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        for sub in ("queue", "processed"):
            (Path(settings.PODIUM_BROKER_DIR) / sub).mkdir(parents=True, exist_ok=True)
