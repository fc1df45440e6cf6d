"""Refuse oversized uploads from the Content-Length header, before the body is read."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


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
                    return JsonResponse({"code": "too_large", "message": message}, status=413)
                return HttpResponse(message, status=413, content_type="text/plain")
        return self.get_response(request)
