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


# Every element with its own text: its colour against the first opaque background behind it
# (translucent ones blended on the way), WCAG 2.x ratio; 3:1 for large text (24 px, or 18.66 px
# bold). Returns the failures as [text, ratio].
TEXT_CONTRAST_JS = """
() => {
  const lin = (c) => { c /= 255; return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  const lum = ([r, g, b]) => 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  const rgba = (s) => { const v = (s.match(/[\\d.]+/g) || [0, 0, 0, 0]).map(Number); return v.length === 3 ? [...v, 1] : v; };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let out = [255, 255, 255];
    for (const [r, g, b, a] of layers.reverse()) out = [r * a + out[0] * (1 - a), g * a + out[1] * (1 - a), b * a + out[2] * (1 - a)];
    return out;
  };
  const failures = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.closest("[disabled], fieldset:disabled, canvas, option, script, style")) continue;
    const st = getComputedStyle(el);
    if (st.visibility === "hidden" || st.display === "none") continue;
    let alpha = 1;
    for (let e = el; e; e = e.parentElement) alpha *= Number(getComputedStyle(e).opacity);
    const [r, g, b, a] = rgba(st.color);
    const bg = background(el);
    const fg = [r, g, b].map((c, i) => c * a * alpha + bg[i] * (1 - a * alpha));
    const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(st.fontSize), bold = Number(st.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < need) failures.push([el.textContent.trim().slice(0, 40), Math.round(ratio * 100) / 100]);
  }
  return failures;
}
"""


def test_text_contrast_and_labelled_fields_on_the_main_pages(
    page, live_server, users, competition, models
):
    Competition.objects.filter(pk=competition.pk).update(visibility="public")
    sub = submission_create(
        user=users["alice"], competition=competition, upload=upload(models["good"])
    )
    scored(sub, 0.9)
    base = live_server.url
    # Keyboard only: type, Tab, type, Enter.
    page.goto(f"{base}/accounts/login/")
    page.focus("input[name=username]")
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    page.keyboard.type("pw-alice-123")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/")
    for path in (
        f"/c/{competition.slug}/",
        f"/s/{sub.pk}/",
        f"/c/{competition.slug}/leaderboard/",
        "/account/tokens/",
    ):
        page.goto(base + path)
        assert page.evaluate(TEXT_CONTRAST_JS) == [], path
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll("input, select, textarea")]
                 .filter((e) => !["hidden", "submit"].includes(e.type))
                 .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute("aria-label"))
                 .map((e) => e.name)"""
        )
        assert unlabelled == [], (path, unlabelled)
