"""Template filters: `{% load podium %}{{ text|markdown }}` (competitions.markdown)."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from competitions.markdown import markdown_html

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    return markdown_html(text)
