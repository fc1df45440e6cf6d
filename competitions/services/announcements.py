"""Announcements on a competition's page, posted by its instructors."""

from __future__ import annotations

from django.contrib.auth.models import User

from competitions.errors import Refused
from competitions.models import Announcement, Competition
from competitions.text import text_checked


def announcement_create(
    *, competition: Competition, user: User, title: str, body: str = ""
) -> Announcement:
    text_checked(title=title, body=body)
    title = title.strip()
    if not title:
        raise Refused("bad_name", "Give the announcement a title.")
    return Announcement.objects.create(
        competition=competition, title=title[:200], body=body.strip(), created_by=user
    )
