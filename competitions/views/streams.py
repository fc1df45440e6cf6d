"""Server-sent events for the submission page and the leaderboard: one `changed` event when the
stream opens (unless the page says, with `since`, that it shows the current state) and one per
change after (competitions/events.py), a comment every KEEPALIVE_S. The leaderboard then fetches
the part that changed (a normal request); the submission's stream carries its status block in
the event itself, which saves the page a request and the server its middleware on the way to
the score (static/podium/push.js swaps it in).

These views are async and stream only under ASGI (hypercorn: `make demo`, and the `stream`
service of the compose deployment), where an open stream holds no thread. Under WSGI (gunicorn)
they answer 204 at once, which tells EventSource not to reconnect: the page polls instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from asgiref.sync import sync_to_async
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.template.loader import render_to_string

from competitions.errors import NotFound
from competitions.events import channel_competition, channel_submission, events_subscribe
from competitions.selectors import access
from competitions.selectors.submissions import submission_push_state_now
from competitions.views.submission_page import submission_context

KEEPALIVE_S = 15.0  # below the usual proxy read timeouts (60 s)
STREAM_S = 300.0  # then the browser reconnects (EventSource does, after `retry`)


def _is_asgi(request: HttpRequest) -> bool:
    return hasattr(request, "scope")


type Render = Callable[[], Awaitable[str]] | None


def _changed(data: str) -> str:
    """A `changed` event; each line of a multi-line payload is a data line of its own."""
    return "event: changed\n" + "".join(f"data: {line}\n" for line in data.splitlines()) + "\n"


async def _events(
    channel: str, unchanged: Callable[[], Awaitable[bool]], render: Render
) -> AsyncIterator[str]:
    async with events_subscribe(channel) as subscription:
        yield "retry: 2000\n\n"
        if await unchanged():  # read after subscribing: a later change comes as an event
            yield ": nothing changed since the page\n\n"
        else:  # whatever happened before the subscription
            yield _changed(await render() if render else "open")
        loop = asyncio.get_running_loop()
        end = loop.time() + STREAM_S
        while loop.time() < end:
            if await subscription.wait(KEEPALIVE_S):
                yield _changed(await render() if render else "changed")
            else:
                yield ": keepalive\n\n"


async def _unknown() -> bool:
    return False


def _stream(
    channel: str, unchanged: Callable[[], Awaitable[bool]] = _unknown, render: Render = None
) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        _events(channel, unchanged, render), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


async def submission_events(request: HttpRequest, pk: str) -> HttpResponseBase:
    user = await request.auser()
    try:
        sub = await sync_to_async(access.submission_get_visible)(user=user, submission_id=pk)
    except NotFound as e:
        raise Http404(str(e)) from e
    if not _is_asgi(request):
        return HttpResponse(status=204)
    since = request.GET.get("since")

    async def unchanged() -> bool:
        # The page was rendered with `since` (submission_push_state): the same state now needs
        # no refresh, which would take CPU from the grading the page is waiting for.
        now = await sync_to_async(submission_push_state_now)(submission_id=sub.pk)
        return since is not None and now == since

    def status_html() -> str:
        # What the status view renders (the same template and context), for the stream's user.
        try:
            fresh = access.submission_get_visible(user=user, submission_id=sub.pk)
        except NotFound:
            return "changed"  # the page asks for itself, and is told
        context = submission_context(sub=fresh, user=user)
        html = render_to_string("competitions/_submission_status.html", context, request=request)
        return html.strip()

    return _stream(channel_submission(sub.pk), unchanged, sync_to_async(status_html))


async def leaderboard_events(request: HttpRequest, slug: str) -> HttpResponseBase:
    user = await request.auser()
    try:
        competition = await sync_to_async(access.competition_get_visible)(user=user, slug=slug)
    except NotFound as e:
        raise Http404(str(e)) from e
    if not _is_asgi(request):
        return HttpResponse(status=204)
    return _stream(channel_competition(competition.pk))
