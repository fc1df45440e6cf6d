"""Template context for the navigation bar."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from competitions.selectors.access import course_list_taught
from competitions.selectors.notifications import notifications_unread


def nav(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    return {
        "is_teacher": SimpleLazyObject(lambda: course_list_taught(user=user).exists()),
        "unread": SimpleLazyObject(lambda: notifications_unread(user=user)),
    }
