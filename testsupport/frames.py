"""Recording what the grader sends to its sandbox children (the length-prefixed protocol frames)."""

from __future__ import annotations

from typing import Any

import numpy as np

Frames = list[tuple[dict[str, Any], dict[str, np.ndarray]]]


def record_sends(monkeypatch: Any) -> Frames:
    """Record every frame the grader sends to its sandbox children: (header, arrays)."""
    from grader import protocol

    sent: Frames = []
    real_send = protocol.send

    def recording_send(stream: Any, header: dict, arrays: dict | None = None) -> None:
        sent.append((header, dict(arrays or {})))
        real_send(stream, header, arrays)

    monkeypatch.setattr(protocol, "send", recording_send)
    return sent


def runs_sent(frames: Frames) -> list[tuple[str, np.ndarray | None]]:
    """The "run" requests among the frames: (images key, the array when it was sent)."""
    return [(h["images_key"], a.get("images")) for h, a in frames if h.get("op") == "run"]
