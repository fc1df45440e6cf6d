"""Settings for the test suite (pytest-django's DJANGO_SETTINGS_MODULE, and the worker it starts).

Every writable path moves to var/test/run-<pid>/ unless PODIUM_VAR_DIR names one (the suite's
worker gets the suite's), so tests never touch a developer's database, uploads or broker queue,
and two test runs in one checkout don't share a test database.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from config.env import env_int

os.environ.setdefault(
    "PODIUM_VAR_DIR",
    str(Path(__file__).resolve().parent.parent / "var" / "test" / f"run-{os.getpid()}"),
)
_base = importlib.import_module("config.settings")
globals().update({name: value for name, value in vars(_base).items() if name.isupper()})

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
# Many tests mint tokens through POST /api/tokens from one address, and the throttle's counters
# live in the process-wide cache: only the throttle tests (tests/competitions/test_web_throttle.py)
# set a real rate. The login lockout keeps its default: its counts are rows in the test database,
# rolled back after every test.
PODIUM_API_LOGIN_RATE = "10000/min"

# The suite's worker, and each queue's worker in the private stacks, is one solo process
# (tests/conftest.py, testsupport/stack.py): one slot per queue unless the environment says more,
# so the dispatcher's order is the order a worker grades in.
PODIUM_GRADING_SLOTS = {
    "cpu": env_int("PODIUM_CPU_SLOTS", 1, minimum=1),
    "gpu": env_int("PODIUM_GPU_SLOTS", 1, minimum=1),
}
