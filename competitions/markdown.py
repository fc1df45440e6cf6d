"""Instructor-written Markdown (a competition's description and rules) as safe HTML.

CommonMark (markdown-it-py) with raw HTML off and tables on, then nh3 (ammonia) allows only
ordinary text markup: no scripts, styles, forms or images (an image would be fetched from
another site by every visitor), links only to http(s) and mailto, and with rel="nofollow"."""

from __future__ import annotations

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False}).enable("table")
TAGS = nh3.ALLOWED_TAGS - {"img", "area", "map"}
SCHEMES = {"http", "https", "mailto"}


def markdown_html(text: str) -> SafeString:
    html = nh3.clean(
        _md.render(text or ""),
        tags=TAGS,
        url_schemes=SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(html)  # nh3 has just sanitised it
