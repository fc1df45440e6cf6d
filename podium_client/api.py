"""Podium from Python (a notebook, a training script): check a model locally, submit it, follow it.

from podium_client import check, submit, status
check("model.onnx")                                   # the grader's own report, on your machine
result = submit("model.onnx", competition="mnist-digits", preprocess="mnist")
result["status"], result["public_score"]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from podium_client.http import PodiumError, Upload, call, config_write, server_url, token_get

PENDING = ("queued", "running")


def login(*, username: str, password: str, server: str | None = None) -> Path:
    """Get an API token for the account and save it (with the server) in the config file."""
    body = call(
        "POST",
        "/tokens",
        server=server,
        json_body={"username": username, "password": password, "name": "cli"},
    )
    return config_write(server=server_url(server), token=body["token"])


def submit(
    model: str | Path,
    *,
    competition: str,
    preprocess: str = "",
    mean: str = "",
    std: str = "",
    layout: str = "",
    note: str = "",
    wait: bool = True,
    timeout: float = 900.0,
    poll: float = 1.0,
    server: str | None = None,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Upload a model; with `wait`, poll until it is scored or failed (or `timeout` passes).
    Returns the API's submission object (status, public_score, error_code, url, ...)."""
    path = Path(model)
    if not path.is_file():
        raise PodiumError("no_file", f"{path}: no such file")
    declared_check(preprocess=preprocess, mean=mean, std=std, layout=layout)
    fields = {"preprocess": preprocess or "", "mean": mean or "", "std": std or "", "note": note}
    if layout:  # sent only when declared: a server without layouts refuses unknown fields
        fields["layout"] = layout
    upload = Upload(fields, path.name, path.read_bytes(), progress)
    token = token_get()
    sub: dict[str, Any] = call(
        "POST",
        f"/competitions/{competition}/submissions",
        server=server,
        token=token,
        upload=upload,
    )
    if wait:
        sub = wait_for(sub, timeout=timeout, poll=poll, server=server)
    return sub


def declared_check(*, preprocess: str, mean: str, std: str, layout: str) -> None:
    """Refuse before uploading what the server would refuse: the engine's own judgement of a
    declaration (the same messages as the upload form, the API and `grader check`)."""
    from grader.adapt import layout_checked
    from grader.errors import Rejected
    from grader.preprocess import declaration_checked

    try:
        declaration_checked(preprocess, mean, std)
        layout_checked(layout)
    except Rejected as e:
        raise PodiumError(e.code, e.message) from e


def wait_for(
    sub: dict[str, Any],
    *,
    timeout: float = 900.0,
    poll: float = 1.0,
    server: str | None = None,
    on_poll: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Poll a submission until it leaves queued/running or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    token = token_get()
    while sub["status"] in PENDING and time.monotonic() < deadline:
        if on_poll is not None:
            on_poll(sub)
        time.sleep(poll)
        sub = call("GET", f"/submissions/{sub['id']}", server=server, token=token)
    return sub


def status(
    submission_id: str | None = None,
    *,
    competition: str | None = None,
    limit: int = 5,
    server: str | None = None,
) -> list[dict[str, Any]]:
    """One submission (by id), or your latest `limit` in a competition, or in every competition."""
    token = token_get()
    if submission_id:
        return [call("GET", f"/submissions/{submission_id}", server=server, token=token)]
    slugs = (
        [competition]
        if competition
        else [c["slug"] for c in call("GET", "/competitions", server=server, token=token)]
    )
    found: list[dict[str, Any]] = []
    for slug in slugs:
        found += call(
            "GET",
            f"/competitions/{slug}/submissions",
            server=server,
            token=token,
            query={"limit": limit},
        )
    return found


def check(model: str | Path, *args: str) -> int:
    """Run the grader's check on this machine (as `podium check MODEL ARGS...`); its exit status."""
    from grader.cli import main as grader_main  # the engine: onnx, numpy, onnxruntime

    return grader_main(["check", str(model), *args])
