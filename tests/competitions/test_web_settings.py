"""Settings: typed env helpers fail loudly; production settings pass `check --deploy`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_str

ROOT = Path(__file__).resolve().parents[2]


def test_env_helpers(monkeypatch):
    monkeypatch.setenv("X_BOOL", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_BOOL"):
        env_bool("X_BOOL", False)
    monkeypatch.setenv("X_BOOL", "off")
    assert env_bool("X_BOOL", True) is False
    monkeypatch.setenv("X_INT", "12x")
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int("X_INT", 1)
    monkeypatch.setenv("X_INT", "0")
    with pytest.raises(ImproperlyConfigured, match="at least"):
        env_int("X_INT", 1, minimum=1)
    monkeypatch.delenv("X_STR", raising=False)
    with pytest.raises(ImproperlyConfigured, match="required"):
        env_str("X_STR")
    monkeypatch.setenv("X_LIST", "a.example, b.example,")
    assert env_list("X_LIST", []) == ["a.example", "b.example"]


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {
        k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG", "ALLOWED_HOSTS")
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_production_settings_pass_check_deploy_and_require_secret_key():
    ok = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SETTINGS_MODULE="config.production",
        SECRET_KEY="x" * 30 + "-production-secret-key-0123456789",
        ALLOWED_HOSTS="podium.example.org",
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    missing = _manage(
        "check", DJANGO_SETTINGS_MODULE="config.production", ALLOWED_HOSTS="podium.example.org"
    )
    assert missing.returncode != 0 and "SECRET_KEY" in missing.stderr
    bad = _manage("check", DEBUG="perhaps")
    assert bad.returncode != 0 and "DEBUG" in bad.stderr


@pytest.mark.parametrize("module", ["config.settings", "config.settings_test"])
def test_importing_settings_creates_no_directory_and_django_setup_makes_them(tmp_path, module):
    var = tmp_path / "var"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "CELERY_", "PODIUM_", "DJANGO_", "STATIC_ROOT"))
    }
    env |= {"PODIUM_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": module, "DEBUG": "1"}
    code = f"import importlib; importlib.import_module({module!r})"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=60)
    assert not var.exists()
    setup = "import django; django.setup()"
    subprocess.run([sys.executable, "-c", setup], cwd=ROOT, env=env, check=True, timeout=60)
    made = {p.relative_to(var).as_posix() for p in var.rglob("*")}
    assert {"broker/queue", "broker/processed", "staticfiles"} <= made
