"""A real SMTP server for the e-mail tests: aiosmtpd in its own process, storing what it receives
in a Maildir that the test reads."""

from __future__ import annotations

import mailbox
import subprocess
import sys
from email.message import Message
from pathlib import Path

from testsupport.procs import free_port, port_open, wait_for


class SmtpServer:
    def __init__(self, workdir: Path) -> None:
        self.maildir = workdir / "maildir"
        self.port = free_port()
        self.log = (workdir / "smtpd.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}"]
            + ["-c", "aiosmtpd.handlers.Mailbox", str(self.maildir)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: port_open(self.port), 20, "the SMTP server to listen")

    def mailer(self) -> dict[str, object]:
        """A MAILERS["default"] entry that sends here."""
        return {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": self.port, "timeout": 10},
        }

    def messages(self) -> list[Message]:
        if not self.maildir.exists():
            return []
        return list(mailbox.Maildir(self.maildir, create=False))

    def wait_message(self, to: str, timeout: float = 20.0) -> Message:
        def found() -> Message | None:
            return next((m for m in self.messages() if to in str(m["To"])), None)

        msg: Message = wait_for(found, timeout, f"a message to {to}")
        return msg

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()
