"""The one requests session every call to a platform goes through: bounded in time and size.

pylti1p3 takes a requests.Session for JWKS fetches, access tokens, NRPS and AGS calls; this one
gives each request a timeout and reads at most PODIUM_LTI_MAX_RESPONSE_BYTES of the answer, so a
slow or hostile platform cannot hold a web process or fill its memory.
"""

from __future__ import annotations

from typing import Any

import requests
from django.conf import settings


class ResponseTooLarge(requests.exceptions.RequestException):
    pass


class BoundedSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.headers["User-Agent"] = "Podium-LTI"
        self.max_redirects = 3

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", settings.PODIUM_LTI_HTTP_TIMEOUT_S)
        kwargs["stream"] = True
        response = super().request(method, url, *args, **kwargs)
        limit = settings.PODIUM_LTI_MAX_RESPONSE_BYTES
        body = bytearray()
        try:
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > limit:
                    raise ResponseTooLarge(f"{url!r} answered more than {limit} bytes")
        finally:
            response.close()
        response._content = bytes(body)
        return response
