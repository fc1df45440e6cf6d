"""Refuse oversized uploads from the Content-Length header, before the body is read; and a body
that cannot be spooled to the upload temp directory because the disk is full (503
`storage_full`, where it was a 500 from whichever middleware or view read the body first)."""

from __future__ import annotations

import errno
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from competitions.errors import error_body, error_code

_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class UploadSizeLimitMiddleware:
    DATASET_PATHS = ("/teach/datasets/import/", "/admin/")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST":
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            dataset = request.path.startswith(self.DATASET_PATHS)
            mb = settings.PODIUM_DATASET_MAX_UPLOAD_MB if dataset else settings.PODIUM_MAX_UPLOAD_MB
            if length > mb * 1024 * 1024 + 64 * 1024:
                message = f"The upload is over the {mb} MB limit."
                if request.path.startswith("/api/"):
                    return JsonResponse(error_body("too_large", message), status=413)
                return self._page(request, message)
            if request.content_type == "multipart/form-data":
                refused = self._spool(request)
                if refused is not None:
                    return refused
        return self.get_response(request)

    @staticmethod
    def _spool(request: HttpRequest) -> HttpResponse | None:
        """Parse the body here, where a full temp directory can still be answered in the
        interface's shape: larger files go to FILE_UPLOAD_TEMP_DIR as they arrive."""
        try:
            _ = request.FILES  # parsed now: that is the point
        except OSError as e:
            if e.errno not in _DISK_FULL:
                raise
            for handler in request.upload_handlers:  # the partly written temp file goes
                partial = getattr(handler, "file", None)
                if partial is not None:
                    partial.close()  # a NamedTemporaryFile: closing deletes it
            message = (
                "The server has no space left to receive your upload; nothing was stored and "
                "no submission was used. Please try again later."
            )
            status = error_code("storage_full").status
            if request.path.startswith("/api/"):
                return JsonResponse(error_body("storage_full", message), status=status)
            return HttpResponse(message, status=status, content_type="text/plain")
        return None

    @staticmethod
    def _page(request: HttpRequest, message: str) -> HttpResponse:
        """The site's own page, with the way back. This runs before the authentication
        middleware (which must not read the body either), so the user is looked up here."""
        request.user = get_user(request)
        back = request.path.removesuffix("submit/") if "/c/" in request.path else request.path
        context = {"message": message, "back": back}
        return render(request, "competitions/too_large.html", context, status=413)
