"""Framing between the grader and its sandbox child: a JSON header, then raw array bytes.

Frame: 4-byte big-endian header length, the header (JSON), then each array's bytes in the order
the header's "arrays" list names them ({"name", "dtype", "shape"}). No pickles cross the pipe.
"""

from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

import numpy as np

MAX_HEADER = 1 << 20
MAX_ARRAY_BYTES = 4 << 30
_ALLOWED_DTYPES = {"uint8", "float16", "float32", "float64", "int32", "int64", "bool"}


class ProtocolError(Exception):
    pass


def send(
    stream: BinaryIO, header: dict[str, Any], arrays: dict[str, np.ndarray] | None = None
) -> None:
    arrays = arrays or {}
    meta = [{"name": k, "dtype": str(v.dtype), "shape": list(v.shape)} for k, v in arrays.items()]
    raw = json.dumps({**header, "arrays": meta}).encode()
    stream.write(struct.pack(">I", len(raw)))
    stream.write(raw)
    for v in arrays.values():
        stream.write(memoryview(np.ascontiguousarray(v)).cast("B"))
    stream.flush()


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        chunk = stream.readinto(view[got:])  # type: ignore[attr-defined]
        if not chunk:
            raise EOFError(f"pipe closed after {got} of {n} bytes")
        got += chunk
    return bytes(buf) if n < 4096 else buf  # type: ignore[return-value]


def recv(stream: BinaryIO) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    (size,) = struct.unpack(">I", _read_exact(stream, 4))
    if size > MAX_HEADER:
        raise ProtocolError(f"header of {size} bytes")
    header = json.loads(_read_exact(stream, size))
    arrays: dict[str, np.ndarray] = {}
    for m in header.pop("arrays", []):
        if m["dtype"] not in _ALLOWED_DTYPES:
            raise ProtocolError(f"dtype {m['dtype']!r} not allowed")
        dtype = np.dtype(m["dtype"])
        shape = tuple(int(d) for d in m["shape"])
        n = dtype.itemsize
        for d in shape:
            n *= d
        if n > MAX_ARRAY_BYTES:
            raise ProtocolError(f"array of {n} bytes")
        arrays[m["name"]] = np.frombuffer(_read_exact(stream, n), dtype=dtype).reshape(shape)
    return header, arrays
