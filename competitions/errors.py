"""Refusals the web and API layers show to people: a stable code and a message."""

from __future__ import annotations


class ServiceError(Exception):
    status = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class Refused(ServiceError):
    """The upload or action was refused; nothing was recorded against the quota."""


class QuotaExceeded(ServiceError):
    status = 429


class NotAllowed(ServiceError):
    status = 403
