"""reference/manifest.json: one entry per reference model (read/write without torch)."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
MANIFEST = ROOT / "manifest.json"
MODELS = ROOT / "models"


def load() -> dict[str, Any]:
    if not MANIFEST.exists():
        return {"version": 1, "models": []}
    return json.loads(MANIFEST.read_text())


def entries() -> list[dict[str, Any]]:
    return list(load()["models"])


def upsert(entry: dict[str, Any]) -> None:
    """Insert or replace the entry with this name (locked: trainings may finish together)."""
    lock = ROOT / "checkpoints" / ".manifest.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as lf:
        fcntl.flock(lf, fcntl.LOCK_EX)
        data = load()
        models = [m for m in data["models"] if m["name"] != entry["name"]]
        models.append(entry)
        models.sort(key=lambda m: m["name"])
        data["models"] = models
        MANIFEST.write_text(json.dumps(data, indent=2) + "\n")
