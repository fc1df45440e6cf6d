"""Errors the engine raises. Each carries a stable machine code and a message for a student."""

from __future__ import annotations


class GraderError(Exception):
    """Base class: `code` is stable (API, database, tests); `message` is for people."""

    kind = "error"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "code": self.code, "message": self.message}


class Rejected(GraderError):
    """The file cannot be scored as it is (found before or while it runs); the student can fix it."""

    kind = "rejected"


class RunFailed(GraderError):
    """The model ran but broke a limit or crashed: time_limit, memory_limit, crashed."""

    kind = "failed"

    @classmethod
    def time_limit(cls, limit_s: float) -> RunFailed:
        """The one wording of the time limit (the sandbox, the engine's deadline, the child)."""
        return cls(
            "time_limit", f"the model ran longer than the {limit_s:g} s limit and was stopped"
        )


class DatasetError(GraderError):
    """A held-out dataset file is unreadable, malformed or unsafe."""

    kind = "dataset"
