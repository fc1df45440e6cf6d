"""Leaderboard page (paginated) and its plot data."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from competitions.selectors import access
from competitions.selectors.exports import late_days_of
from competitions.selectors.leaderboard import leaderboard_get, leaderboard_page
from competitions.views.lookup import competition_or_login

PAGE_SIZE = 100  # rendering is the page's main cost: 100 rows take a few ms


def leaderboard(request: HttpRequest, slug: str) -> HttpResponse:
    competition = competition_or_login(request, slug)
    if isinstance(competition, HttpResponse):
        return competition
    instructor = access.competition_is_instructor(user=request.user, competition=competition)
    finished = competition.is_finished()
    private = finished or (instructor and request.GET.get("split") == "private")
    rows = leaderboard_get(competition=competition, private=private)
    by_robust = competition.robustness and request.GET.get("sort") == "robust"
    if by_robust:  # the same rows and ranks, ordered by the corrupted images' mean accuracy
        rows = sorted(rows, key=lambda r: (r.robust_accuracy is None, -(r.robust_accuracy or 0)))
    me = request.user.pk if request.user.is_authenticated else None
    page = leaderboard_page(rows=rows, page=request.GET.get("page"), size=PAGE_SIZE, user_id=me)
    late = late_days_of([r.submission_id for r in page.rows])
    for r in page.rows:
        r.late_days = late.get(r.submission_id, 0)
    points = [
        {"x": r.params, "y": r.score, "name": r.name, "pareto": r.pareto, "baseline": r.is_baseline}
        for r in rows
        if r.params
    ]
    shakeup = [
        {"x": r.rank + r.rank_change, "y": r.rank, "name": r.name, "score_change": r.score_change}
        for r in rows
        if finished and r.rank_change is not None
    ]
    split = "&split=private" if private and not finished else ""
    split += "&sort=robust" if by_robust else ""
    return render(
        request,
        "competitions/leaderboard.html",
        {
            "competition": competition,
            "rows": page.rows,
            "page": page,
            "split_query": split,
            "private": private,
            "finished": finished,
            "is_instructor": instructor,
            "me": me,
            "points": points,
            "shakeup": shakeup,
            "by_robust": by_robust,
        },
    )
