"""Values every supported database stores: PostgreSQL refuses NUL characters in text and jsonb,
and NaN or Infinity in jsonb (each a DataError at the final write). Model files are untrusted:
names and metadata from them reach results, logs and messages."""

from __future__ import annotations

import math
from typing import Any


def text_storable(value: str) -> str:
    """The text without NUL characters (shown as U+FFFD, so the gap stays visible)."""
    return value.replace("\x00", "\ufffd")


def json_storable(value: Any) -> Any:
    """A JSON value with every string made storable and every non-finite float made null."""
    if isinstance(value, str):
        return text_storable(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {text_storable(str(k)): json_storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_storable(v) for v in value]
    return value
