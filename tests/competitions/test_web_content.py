"""Competition content (issue 15): the description and rules are Markdown, sanitised."""

from __future__ import annotations

import pytest
from django.urls import reverse

from competitions.markdown import markdown_html
from competitions.models import Competition

HOSTILE = (
    "**Bold** and a [link](https://example.org).\n\n"
    "<script>window.pwned = 1</script>\n\n"
    "[click](javascript:alert(1)) ![pixel](https://tracker.example/p.png)\n\n"
    '<img src=x onerror="window.pwned = 1">\n\n'
    "| model | params |\n|---|---|\n| logreg | 7,850 |\n"
)


def test_markdown_renders_text_markup_and_drops_anything_active():
    html = markdown_html(HOSTILE)
    assert "<strong>Bold</strong>" in html
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow">link</a>' in html
    assert "<table>" in html and "<td>7,850</td>" in html
    assert "<script" not in html and 'href="javascript:' not in html  # shown as text
    assert "<img" not in html and "tracker.example" not in html  # no image fetched elsewhere


@pytest.mark.django_db
def test_competition_page_shows_description_and_rules_as_markdown(client, users, competition):
    Competition.objects.filter(pk=competition.pk).update(
        description=HOSTILE, rules="1. One account each.\n2. No test-set training."
    )
    client.force_login(users["alice"])
    page = client.get(reverse("competitions:detail", args=[competition.slug])).content.decode()
    assert "<strong>Bold</strong>" in page and "<script>window.pwned" not in page
    assert '<section class="card content" id="rules"><h2>Rules</h2><ol>' in page
    assert "<li>No test-set training.</li>" in page
