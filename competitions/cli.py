"""`podium` command line: submit a model, wait for its score, read the leaderboard.

    podium login --server https://podium.example.org       # asks for username/password, saves token
    podium submit model.onnx --competition mnist-digits [--preprocess mnist] [--note "..."]
    podium competitions
    podium leaderboard mnist-digits

Token: $PODIUM_TOKEN, else ~/.config/podium.json {"server": ..., "token": ...}.
Server: --server, else $PODIUM_URL, else the config file, else http://127.0.0.1:8000.
Plain HTTP (requests); no Django needed.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests

CONFIG = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "podium.json"
DEFAULT_SERVER = "http://127.0.0.1:8000"


def _config() -> dict[str, Any]:
    try:
        return json.loads(CONFIG.read_text())
    except (OSError, ValueError):
        return {}


def _server(args: argparse.Namespace) -> str:
    url = args.server or os.environ.get("PODIUM_URL") or _config().get("server") or DEFAULT_SERVER
    return url.rstrip("/")


def _token() -> str:
    token = os.environ.get("PODIUM_TOKEN") or _config().get("token")
    if not token:
        sys.exit(f"no API token: set PODIUM_TOKEN or run `podium login` (writes {CONFIG})")
    return str(token)


def _check(response: requests.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = {"message": response.text[:300]}
    if response.status_code >= 400:
        message = body.get("message") or body.get("detail") or body
        sys.exit(f"error {response.status_code}: {body.get('code', '')} {message}".strip())
    return body


class _ProgressBody:
    """A multipart body read in chunks, drawing an upload progress bar on stderr."""

    def __init__(self, parts: list[bytes], label: str, quiet: bool) -> None:
        self.data = b"".join(parts)
        self.pos = 0
        self.label = label
        self.quiet = quiet

    def __len__(self) -> int:
        return len(self.data)

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            size = len(self.data) - self.pos
        chunk = self.data[self.pos : self.pos + size]
        self.pos += len(chunk)
        if not self.quiet:
            done = self.pos / max(len(self.data), 1)
            bar = "#" * int(done * 30)
            sys.stderr.write(f"\rupload {self.label} [{bar:<30}] {done:4.0%}")
            if self.pos >= len(self.data):
                sys.stderr.write("\n")
            sys.stderr.flush()
        return chunk


def _multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[list[bytes], str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    safe = filename.replace('"', "_")
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{safe}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
    )
    parts += [data, f"\r\n--{boundary}--\r\n".encode()]
    return parts, f"multipart/form-data; boundary={boundary}"


def _print_result(sub: dict[str, Any]) -> None:
    print(f"status: {sub['status']}")
    if sub["status"] == "scored":
        print(f"public score: {sub['public_score']:.4f}")
        if sub.get("private_score") is not None:
            print(f"private score: {sub['private_score']:.4f}")
        print(f"params: {sub['params']}  MACs: {sub['macs']}")
    elif sub["status"] == "failed":
        print(f"reason: {sub['error_code']}: {sub['error_message']}")
    for line in sub.get("adaptation") or []:
        print(f"  - {line}")
    if sub.get("diagnosis"):
        print(f"diagnosis: {sub['diagnosis']}")
    print(sub["url"])


def cmd_submit(args: argparse.Namespace) -> int:
    path = Path(args.model)
    if not path.is_file():
        sys.exit(f"{path}: no such file")
    server, headers = _server(args), {"Authorization": f"Bearer {_token()}"}
    fields = {
        "preprocess": args.preprocess or "",
        "mean": args.mean or "",
        "std": args.std or "",
        "note": args.note or "",
    }
    parts, content_type = _multipart(fields, path.name, path.read_bytes())
    body = _ProgressBody(parts, path.name, args.quiet)
    response = requests.post(
        f"{server}/api/competitions/{args.competition}/submissions",
        data=body,
        headers=headers | {"Content-Type": content_type, "Content-Length": str(len(body))},
        timeout=600,
    )
    sub = _check(response)
    print(f"submitted {sub['id']} ({sub['status']})")
    if args.no_wait:
        print(sub["url"])
        return 0
    deadline = time.monotonic() + args.timeout
    while sub["status"] in ("queued", "running") and time.monotonic() < deadline:
        if not args.quiet:
            sys.stderr.write(f"\r{sub['status']:<8} {sub['progress']:4.0%}")
            sys.stderr.flush()
        time.sleep(args.poll)
        sub = _check(
            requests.get(f"{server}/api/submissions/{sub['id']}", headers=headers, timeout=30)
        )
    if not args.quiet:
        sys.stderr.write("\r" + " " * 20 + "\r")
    _print_result(sub)
    return {"scored": 0, "failed": 1}.get(sub["status"], 2)


def cmd_login(args: argparse.Namespace) -> int:
    server = _server(args)
    username = args.username or input("username: ")
    password = os.environ.get("PODIUM_PASSWORD") or getpass.getpass("password: ")
    body = _check(
        requests.post(
            f"{server}/api/tokens",
            json={"username": username, "password": password, "name": "cli"},
            timeout=30,
        )
    )
    CONFIG.parent.mkdir(parents=True, exist_ok=True)
    CONFIG.write_text(json.dumps({"server": server, "token": body["token"]}, indent=2))
    CONFIG.chmod(0o600)
    print(f"token saved to {CONFIG}")
    return 0


def cmd_competitions(args: argparse.Namespace) -> int:
    headers = {"Authorization": f"Bearer {_token()}"}
    for c in _check(requests.get(f"{_server(args)}/api/competitions", headers=headers, timeout=30)):
        state = "closed" if c["finished"] else "open" if c["accepts_submissions"] else "not open"
        print(f"{c['slug']:<24} {state:<8} {c['title']}")
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    headers = {"Authorization": f"Bearer {_token()}"}
    url = f"{_server(args)}/api/competitions/{args.competition}/leaderboard"
    board = _check(requests.get(url, headers=headers, params={"limit": 1000}, timeout=30))
    rows = board["rows"]
    while len(rows) < board["total"]:  # the API pages at most 1000 rows at a time
        more = _check(
            requests.get(
                url, headers=headers, timeout=30, params={"limit": 1000, "offset": len(rows)}
            )
        )
        if not more["rows"]:
            break
        rows += more["rows"]
    print(f"{args.competition} ({board['split']} split)")
    for r in rows:
        tag = " [baseline]" if r["is_baseline"] else ""
        print(f"{r['rank']:>3}  {r['score']:.4f}  {r['params'] or '':>9}  {r['name']}{tag}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="podium", description=__doc__.split("\n")[0])
    parser.add_argument("--server", help=f"site URL (default $PODIUM_URL or {DEFAULT_SERVER})")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("submit", help="upload a model and wait for its score")
    p.add_argument("model")
    p.add_argument("--competition", "-c", required=True)
    p.add_argument("--preprocess", help="unit, raw, symmetric, mnist, cifar10 or custom")
    p.add_argument("--mean", help="custom: comma-separated per-channel means")
    p.add_argument("--std", help="custom: comma-separated per-channel stds")
    p.add_argument("--note", default="")
    p.add_argument("--no-wait", action="store_true")
    p.add_argument("--timeout", type=float, default=900.0)
    p.add_argument("--poll", type=float, default=1.0)
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=cmd_submit)
    p = sub.add_parser("login", help="get an API token and save it")
    p.add_argument("--username")
    p.set_defaults(func=cmd_login)
    sub.add_parser("competitions", help="list competitions").set_defaults(func=cmd_competitions)
    p = sub.add_parser("leaderboard", help="print a leaderboard")
    p.add_argument("competition")
    p.set_defaults(func=cmd_leaderboard)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
