"""The Podium REST API over the standard library (no requests): JSON calls and a multipart upload.

Server: an explicit argument, else $PODIUM_URL, else the config file, else http://127.0.0.1:8000.
Token: $PODIUM_TOKEN, else the config file ($XDG_CONFIG_HOME or ~/.config, podium.json).
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_SERVER = "http://127.0.0.1:8000"


class PodiumError(Exception):
    """A refusal from the server, with the API's stable `code` and its message for people."""

    def __init__(self, code: str, message: str, status: int = 0) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code
        self.message = message
        self.status = status


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "podium.json"


def config_read() -> dict[str, Any]:
    try:
        data = json.loads(config_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def config_write(*, server: str, token: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"server": server, "token": token}, indent=2))
    path.chmod(0o600)
    return path


def server_url(server: str | None = None) -> str:
    url = server or os.environ.get("PODIUM_URL") or config_read().get("server") or DEFAULT_SERVER
    return str(url).rstrip("/")


def token_get() -> str:
    token = os.environ.get("PODIUM_TOKEN") or config_read().get("token")
    if not token:
        raise PodiumError(
            "no_token",
            f"no API token: set PODIUM_TOKEN or run `podium login` (writes {config_path()})",
        )
    return str(token)


def _error(status: int, raw: bytes) -> PodiumError:
    try:
        body = json.loads(raw)
    except ValueError:
        return PodiumError("", raw[:300].decode(errors="replace") or f"HTTP {status}", status)
    if not isinstance(body, dict):
        return PodiumError("", str(body)[:300], status)
    message = body.get("message") or body.get("detail") or json.dumps(body)[:300]
    return PodiumError(str(body.get("code", "")), str(message), status)


def call(
    method: str,
    path: str,
    *,
    server: str | None = None,
    token: str | None = None,
    json_body: Any = None,
    query: dict[str, Any] | None = None,
    upload: Upload | None = None,
) -> Any:
    """One API call; the decoded JSON answer, or PodiumError carrying the server's code."""
    url = server_url(server) + "/api" + path
    if query:
        url += "?" + urllib.parse.urlencode(query)
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data: Any = None
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    elif upload is not None:
        data = upload
        headers["Content-Type"] = upload.content_type
        headers["Content-Length"] = str(len(upload))
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=600 if upload else 30) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        raise _error(e.code, e.read()) from None
    except urllib.error.URLError as e:
        raise PodiumError("unreachable", f"{url}: {e.reason}") from None
    except (OSError, http.client.HTTPException) as e:
        # Connected, then the connection failed (reset, closed without an answer, timed out):
        # as unreachable, in one line, with what happened.
        what = str(e) or type(e).__name__
        raise PodiumError("unreachable", f"{url}: {what}") from None


class Upload:
    """A multipart/form-data body (fields plus one file), read in chunks by urllib; `progress`
    is called with the fraction sent after each chunk."""

    def __init__(
        self,
        fields: dict[str, str],
        filename: str,
        data: bytes,
        progress: Callable[[float], None] | None = None,
    ) -> None:
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
            for name, value in fields.items()
        ]
        safe = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{safe}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
        )
        parts += [data, f"\r\n--{boundary}--\r\n".encode()]
        self.body = b"".join(parts)
        self.content_type = f"multipart/form-data; boundary={boundary}"
        self.pos = 0
        self.progress = progress

    def __len__(self) -> int:
        return len(self.body)

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = len(self.body) - self.pos
        chunk = self.body[self.pos : self.pos + size]
        self.pos += len(chunk)
        if self.progress is not None and chunk:
            self.progress(self.pos / max(len(self.body), 1))
        return chunk
