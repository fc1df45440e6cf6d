"""Container health checks (stdlib + kombu only; no Django start-up, so they are cheap).

    python docker/healthcheck.py web      # gunicorn answers through the whole Django stack
    python docker/healthcheck.py broker   # the Celery broker (CELERY_BROKER_URL) accepts a connection

Workers are checked with `celery -A config inspect ping -d <node>` in compose.yaml instead.

`web` sends GET / to 127.0.0.1 with a Host header from ALLOWED_HOSTS (any other host is a 400
from Django) and `X-Forwarded-Proto: https` (honoured when USE_X_FORWARDED_PROTO=1). Without it
SECURE_SSL_REDIRECT answers 301, which also proves Django is up: any status below 500 is healthy.
Redirects are not followed (http.client never does).
"""

from __future__ import annotations

import http.client
import os
import sys


def _host() -> str:
    for host in os.environ.get("ALLOWED_HOSTS", "").split(","):
        host = host.strip().lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


def check_web() -> str:
    port = int(os.environ.get("PORT", "8000"))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/", headers={"Host": _host(), "X-Forwarded-Proto": "https"})
    status = conn.getresponse().status
    if status >= 500:
        raise RuntimeError(f"GET / answered {status}")
    return f"web: GET / -> {status}"


def check_broker() -> str:
    from kombu import Connection

    url = os.environ.get("CELERY_BROKER_URL", "")
    if not url or url.startswith("filesystem://"):
        raise RuntimeError("CELERY_BROKER_URL is not a network broker")
    with Connection(url, connect_timeout=5) as conn:
        conn.ensure_connection(max_retries=1)
    return "broker: connected"


CHECKS = {"web": check_web, "broker": check_broker}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in CHECKS:
        print(f"usage: healthcheck.py {{{'|'.join(CHECKS)}}}", file=sys.stderr)
        return 2
    try:
        print(CHECKS[argv[0]]())
    except Exception as e:  # noqa: BLE001 - any failure is "unhealthy", with the reason
        print(f"unhealthy: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
