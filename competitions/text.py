"""Text people type (notes, labels, token and team names, usernames): one check for what the
database cannot store. PostgreSQL refuses NUL (\\x00) in text and would answer a 500; we refuse
it first, with a clear `bad_text` error. Django's form CharField refuses NUL already (its
ProhibitNullCharactersValidator); this covers the API, plain POST fields and the services."""

from __future__ import annotations

from competitions.errors import Refused

NUL = "\x00"


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored, or None when it can."""
    return "NUL (\\x00) characters are not allowed" if NUL in value else None


def text_checked(**fields: str) -> None:
    """Refuse (`bad_text`, naming the field) the first field that cannot be stored."""
    for field, value in fields.items():
        problem = text_problem(value)
        if problem is not None:
            raise Refused("bad_text", f"{field}: {problem}.")
