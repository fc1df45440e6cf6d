"""Issue 15's layout checks in Chromium: every changed page at desktop and phone (390 px) width
without horizontal scrolling, the confusion matrix readable (WCAG AA contrast in every cell),
one chart tooltip line per point, and /api/docs working with every other host unreachable."""

from __future__ import annotations

import pytest

from competitions.models import Competition
from competitions.services.submissions import baseline_create, submission_create
from testsupport.browser import PHONE, login, overflow_px, shot
from testsupport.web import scored_directly as scored
from testsupport.web import upload

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.browser]

# Relative luminance and contrast ratio, WCAG 2.x (https://www.w3.org/TR/WCAG21/#dfn-contrast-ratio);
# a cell's background is blended over the white card it sits on.
CONTRAST_JS = """
() => {
  const lin = (c) => { c /= 255; return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  const lum = ([r, g, b]) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  const rgba = (s) => { const v = s.match(/[\\d.]+/g).map(Number); return v.length === 3 ? [...v, 1] : v; };
  return [...document.querySelectorAll("table.confusion td")].map((td) => {
    const st = getComputedStyle(td);
    const [r, g, b, a] = rgba(st.backgroundColor);
    const bg = [r, g, b].map((c) => c * a + 255 * (1 - a));
    const fg = rgba(st.color).slice(0, 3);
    const [hi, lo] = [lum(bg), lum(fg)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  });
}
"""


def test_pages_fit_a_phone_and_the_confusion_matrix_is_readable(
    browser, live_server, users, competition, models
):
    best = submission_create(
        user=users["alice"],
        competition=competition,
        upload=upload(models["good"], "cnn (final).onnx"),
    )
    scored(best, 0.91)
    users["teacher"].is_staff = True  # the status page is for staff
    users["teacher"].save()
    base = live_server.url
    pages = {
        "competition": f"/c/{competition.slug}/",
        "submission": f"/s/{best.pk}/",
        "leaderboard": f"/c/{competition.slug}/leaderboard/",
    }
    for width, viewport in (("desktop", {"width": 1200, "height": 900}), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        login(page, base, "teacher", "pw-teacher-123")
        teacher_pages = pages | {
            "submissions": f"/teach/c/{competition.slug}/submissions/",
            "competition-form": "/teach/new/",
            "tokens": "/account/tokens/",
            "status": "/teach/status/",
        }
        for name, path in teacher_pages.items():
            page.goto(base + path)
            assert overflow_px(page) <= 0, f"{name} scrolls sideways at {width} width"
            shot(page, f"pages-{name}-{width}")
        context.close()

    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    login(page, base, "alice", "pw-alice-123")
    page.goto(f"{base}/s/{best.pk}/")
    ratios = page.evaluate(CONTRAST_JS)
    assert len(ratios) == 100 and min(ratios) >= 4.5, min(ratios)
    context.close()


def test_chart_tooltip_has_one_line_per_point(page, live_server, users, competition, models):
    Competition.objects.filter(pk=competition.pk).update(visibility="public")
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    scored(sub, 0.9)
    base_sub = baseline_create(
        user=users["teacher"], competition=competition, upload=upload(models["weak"]), label="tiny"
    )
    scored(base_sub, 0.5)
    page.goto(f"{live_server.url}/c/{competition.slug}/leaderboard/")
    page.wait_for_function("() => window.Chart && Chart.getChart('pareto')")
    # The mouse over the entry's point, which the Pareto front's line passes through too.
    point = page.evaluate(
        "() => { const e = Chart.getChart('pareto').getDatasetMeta(0).data[0]; return [e.x, e.y]; }"
    )
    box = page.locator("#pareto").bounding_box()
    page.mouse.move(box["x"] + point[0], box["y"] + point[1])
    page.wait_for_function("() => (Chart.getChart('pareto').tooltip.dataPoints || []).length > 0")
    lines = page.evaluate("() => Chart.getChart('pareto').tooltip.dataPoints.length")
    assert lines == 1


def test_api_docs_render_with_other_hosts_unreachable(page, live_server):
    outside = []

    def only_this_site(route):
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_site)
    page.goto(f"{live_server.url}/api/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Podium API" in page.inner_text(".swagger-ui .info .title")
    assert outside == []
