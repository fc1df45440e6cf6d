"""`make demo`'s promise for a new student: the instructor imports a roster, the demo prints the
invitation e-mail (Django's console backend, as DEBUG demo settings choose), its link sets a
password and the student then sees the course's competitions. Runs the demo's own commands
(migrate, seed_demo, rundemo) in a private var dir on the embedded default (SQLite + filesystem
broker), whatever database the suite itself uses."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from testsupport.procs import free_port, port_open, wait_for

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _post_form(s: requests.Session, url: str, data: dict[str, str]) -> requests.Response:
    page = s.get(url, timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, page.text[:2000]
    return s.post(url, data={"csrfmiddlewaretoken": token.group(1), **data}, timeout=60)


def test_demo_prints_the_invitation_whose_link_lets_a_new_student_in(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_"))}
    env.update(
        PODIUM_VAR_DIR=str(tmp_path / "var"),
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONUNBUFFERED="1",
        DEBUG="true",
    )
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, env=env, check=True, timeout=300)
    seed = subprocess.run(
        [*manage, "seed_demo", "--baseline", "mnist_logreg"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=600,
        capture_output=True,
        text=True,
    )
    account = re.search(r"^\s+(instructor)\s+/\s+(\S+)", seed.stdout, re.M)
    assert account, seed.stdout
    port = free_port()
    out = tmp_path / "demo.out"
    with out.open("wb") as log:
        demo = subprocess.Popen(
            [*manage, "rundemo", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: port_open(port), 60, "the demo's web server")
        base = f"http://127.0.0.1:{port}"
        teacher = requests.Session()
        _post_form(
            teacher,
            f"{base}/accounts/login/",
            {"username": account.group(1), "password": account.group(2)},
        )
        page = teacher.get(f"{base}/teach/courses/demo/roster/", timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert page.status_code == 200 and token
        r = teacher.post(
            f"{base}/teach/courses/demo/roster/",
            data={"csrfmiddlewaretoken": token.group(1)},
            files={"csv_file": ("roster.csv", b"username,email\nnewbie,newbie@example.org\n")},
            timeout=60,
        )
        assert "1 new; 1 e-mails sent" in r.text

        def printed_link() -> str | None:
            m = re.search(r"(http://\S+/invite/\S+/)", out.read_text(errors="replace"))
            return m.group(1) if m else None

        link = wait_for(printed_link, 30, "the invitation printed by the demo")
        assert "Subject: Podium: your account for Demo course" in out.read_text()
        student = requests.Session()
        r = _post_form(
            student, link, {"new_password1": "a-Good-pass-42", "new_password2": "a-Good-pass-42"}
        )
        assert r.status_code == 200 and "your password is set" in r.text
        again = requests.Session()
        home = _post_form(
            again,
            f"{base}/accounts/login/",
            {"username": "newbie", "password": "a-Good-pass-42"},
        )
        assert "MNIST digits" in home.text and "Log out" in home.text, home.text[:3000]
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
