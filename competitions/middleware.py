"""Refuse oversized uploads from the Content-Length header, before the body is read."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from competitions.errors import error_body


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
        return self.get_response(request)

    @staticmethod
    def _page(request: HttpRequest, message: str) -> HttpResponse:
        """The site's own page, with the way back. This runs before the authentication
        middleware (which must not read the body either), so the user is looked up here."""
        request.user = get_user(request)
        back = request.path.removesuffix("submit/") if "/c/" in request.path else request.path
        context = {"message": message, "back": back}
        return render(request, "competitions/too_large.html", context, status=413)
