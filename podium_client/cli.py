"""`podium`: check a model on your machine, submit it, wait for its score, read the leaderboard.

    podium check model.onnx [--dataset cifar10] [--preprocess mnist] [--json]   # no server needed
    (model.keras or model.h5, as Keras model.save wrote it, work the same way as model.onnx)
    podium login --server https://podium.example.org     # asks for username/password, saves token
    podium submit model.onnx --competition mnist-digits [--preprocess mnist] [--layout flat_chw]
    podium status [ID] [--competition SLUG]
    podium competitions
    podium leaderboard mnist-digits

`podium check` takes every option of `python -m grader check` (the same code the platform runs).
Token: $PODIUM_TOKEN, else the config file written by `podium login`. Server: --server, else
$PODIUM_URL, else the config file, else http://127.0.0.1:8000.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from grader.adapt import LAYOUTS
from grader.preprocess import PRESETS
from podium_client import api
from podium_client.http import DEFAULT_SERVER, PodiumError, call, token_get

# Declarations refused on this machine before anything is uploaded (the engine's own judgement).
REFUSED_HERE = ("bad_preprocess", "bad_layout")


def _live() -> bool:
    """Redrawn progress (`\r`) only on a terminal; a log or a pipe gets the final lines."""
    return sys.stderr.isatty()


def _bar(label: str, quiet: bool) -> Any:
    def draw(done: float) -> None:
        if quiet or (done < 1 and not _live()):
            return
        line = f"upload {label} [{'#' * int(done * 30):<30}] {done:4.0%}"
        sys.stderr.write(f"\r{line}" if _live() else line)
        if done >= 1:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return draw


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
    name = os.path.basename(args.model)
    sub = api.submit(
        args.model,
        competition=args.competition,
        preprocess=args.preprocess or "",
        mean=args.mean or "",
        std=args.std or "",
        layout=args.layout or "",
        note=args.note or "",
        wait=False,
        server=args.server,
        progress=_bar(name, args.quiet),
    )
    print(f"submitted {sub['id']} ({sub['status']})")
    if args.no_wait:
        print(sub["url"])
        return 0

    def show(s: dict[str, Any]) -> None:
        if not args.quiet and _live():
            sys.stderr.write(f"\r{s['status']:<8} {s['progress']:4.0%}")
            sys.stderr.flush()

    sub = api.wait_for(sub, timeout=args.timeout, poll=args.poll, server=args.server, on_poll=show)
    if not args.quiet and _live():
        sys.stderr.write("\r" + " " * 20 + "\r")
    _print_result(sub)
    return {"scored": 0, "failed": 1}.get(sub["status"], 2)


def cmd_status(args: argparse.Namespace) -> int:
    subs = api.status(args.id, competition=args.competition, limit=args.limit, server=args.server)
    if args.id:
        _print_result(subs[0])
        return 0
    if not subs:
        print("no submissions yet")
    for s in subs:
        score = f"{s['public_score']:.4f}" if s["public_score"] is not None else "-"
        why = f"  {s['error_code']}" if s["status"] == "failed" else ""
        print(
            f"{s['id']}  {s['competition']:<20} {s['status']:<8} {score:>7}{why}  {s['original_name']}"
        )
    return 0


def cmd_login(args: argparse.Namespace) -> int:
    username = args.username or input("username: ")
    password = os.environ.get("PODIUM_PASSWORD") or getpass.getpass("password: ")
    path = api.login(username=username, password=password, server=args.server)
    print(f"token saved to {path}")
    return 0


def cmd_competitions(args: argparse.Namespace) -> int:
    for c in call("GET", "/competitions", server=args.server, token=token_get()):
        state = "closed" if c["finished"] else "open" if c["accepts_submissions"] else "not open"
        print(f"{c['slug']:<24} {state:<8} {c['title']}")
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    token, path = token_get(), f"/competitions/{args.competition}/leaderboard"
    board = call("GET", path, server=args.server, token=token, query={"limit": 1000})
    rows = board["rows"]
    while len(rows) < board["total"]:  # the API pages at most 1000 rows at a time
        query = {"limit": 1000, "offset": len(rows)}
        more = call("GET", path, server=args.server, token=token, query=query)
        if not more["rows"]:
            break
        rows += more["rows"]
    print(f"{args.competition} ({board['split']} split)")
    for r in rows:
        tag = " [baseline]" if r["is_baseline"] else ""
        print(f"{r['rank']:>3}  {r['score']:.4f}  {r['params'] or '':>9}  {r['name']}{tag}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="podium", description=__doc__.split("\n")[0])
    parser.add_argument("--server", help=f"site URL (default $PODIUM_URL or {DEFAULT_SERVER})")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="score a model on this machine, as the platform grades it")
    p.add_argument("model")
    p.add_argument("options", nargs=argparse.REMAINDER, help="options of `python -m grader check`")
    p = sub.add_parser("submit", help="upload a model and wait for its score")
    p.add_argument("model")
    p.add_argument("--competition", "-c", required=True)
    p.add_argument("--preprocess", help=f"{', '.join(PRESETS)} or custom (with --mean, --std)")
    p.add_argument("--mean", help="custom: comma-separated per-channel means")
    p.add_argument("--std", help="custom: comma-separated per-channel stds")
    p.add_argument("--layout", help=f"the model's input layout: {', '.join(LAYOUTS)}")
    p.add_argument("--note", default="")
    p.add_argument("--no-wait", action="store_true")
    p.add_argument("--timeout", type=float, default=900.0)
    p.add_argument("--poll", type=float, default=1.0)
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=cmd_submit)
    p = sub.add_parser("status", help="your latest submissions, or one submission")
    p.add_argument("id", nargs="?")
    p.add_argument("--competition", "-c")
    p.add_argument("--limit", type=int, default=5, help="per competition (default 5)")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("login", help="get an API token and save it")
    p.add_argument("--username")
    p.set_defaults(func=cmd_login)
    sub.add_parser("competitions", help="list competitions").set_defaults(func=cmd_competitions)
    p = sub.add_parser("leaderboard", help="print a leaderboard")
    p.add_argument("competition")
    p.set_defaults(func=cmd_leaderboard)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check":
        return api.check(args.model, *args.options)
    try:
        return int(args.func(args))
    except PodiumError as e:
        status = f"error {e.status}: " if e.status else "error: "
        line = f"{status}{e.code} {e.message}".replace("  ", " ").strip()
        if e.status == 401 and args.command != "login":
            line += " (run `podium login` to get a new token, or set PODIUM_TOKEN)"
        print(line, file=sys.stderr)
        return 2  # refused or unreachable: the message says why (as `podium check` rejecting)


if __name__ == "__main__":
    sys.exit(main())
