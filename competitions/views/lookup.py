"""Selectors raise the domain's NotFound; pages answer it with Django's 404."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import Http404

from competitions.errors import NotFound


def or_404[T](select: Callable[..., T], **kwargs: Any) -> T:
    """`select(**kwargs)`, with NotFound turned into Http404 (same message)."""
    try:
        return select(**kwargs)
    except NotFound as e:
        raise Http404(str(e)) from None
