"""Reading untrusted `.npz` files without pickles and without trusting declared sizes.

`np.load(allow_pickle=False)` refuses object arrays but still allocates whatever a member's header
declares. Here each member's header is parsed first; its declared byte count must be sane, within
the limit, and equal to what the member actually holds, before any array is built.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import numpy as np

from grader.errors import Rejected

MAX_MEMBERS = 256
RESAVE = (
    "save each array by name instead, e.g.\n"
    "    arrays = {'fc1.W': W1, 'fc1.b': b1, 'fc2.W': W2, 'fc2.b': b2}\n"
    "    np.savez('net.npz', architecture=np.array(json.dumps(spec)), **arrays)\n"
    "(grader.npnet.save(path, layers, input_shape=...) writes the spec and the arrays for you)"
)


def _pickle_kind(data: bytes) -> str | None:
    """What a pickle-bearing file that is not a zip looks like, for the advice; None if neither."""
    if data[:6] == b"\x93NUMPY":
        return "a single .npy array (np.save), not an .npz archive"
    if len(data) > 1 and data[0] == 0x80 and 2 <= data[1] <= 5:
        return "a Python pickle (pickle.dump, or np.save of a list or a dict)"
    return None


def refuse_pickle(data: bytes) -> None:
    """Refuse a pickle or a bare .npy, whatever it is named, saying how to save an .npz."""
    kind = _pickle_kind(data)
    if kind:
        raise Rejected("npz_pickle", f"the file is {kind}; {RESAVE}")


def _parse_header(f: Any, name: str) -> tuple[tuple[int, ...], np.dtype[Any], bool]:
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, OverflowError, SyntaxError, TypeError) as e:
        raise Rejected("npz_invalid", f"array {name!r}: unreadable header ({e})") from e
    return tuple(int(d) for d in shape), np.dtype(dtype), bool(fortran)


def open_npz(data: bytes, *, max_total_bytes: int = 512 << 20) -> dict[str, np.ndarray]:
    """All arrays of an npz file; raises Rejected with a precise reason for anything unsafe."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as e:
        refuse_pickle(data)
        raise Rejected("npz_invalid", "not an .npz file (not a zip archive)") from e
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise Rejected("npz_invalid", f"{len(infos)} arrays; at most {MAX_MEMBERS}")
    out: dict[str, np.ndarray] = {}
    total = 0
    for info in infos:
        name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        with zf.open(info) as f:
            shape, dtype, fortran = _parse_header(f, name)
            if dtype.hasobject:
                raise Rejected(
                    "npz_pickle",
                    f"array {name!r} holds Python objects (a pickle: np.save or np.savez of a "
                    f"list or a dict of arrays); only numeric arrays are accepted: {RESAVE}",
                )
            if any(d < 0 for d in shape):
                raise Rejected("npz_invalid", f"array {name!r}: negative dimension in {shape}")
            count = 1
            for d in shape:  # Python ints: a header shape of 2**64 cannot overflow here
                count *= d
            nbytes = count * dtype.itemsize
            if nbytes > max_total_bytes or total + nbytes > max_total_bytes:
                raise Rejected(
                    "too_large",
                    f"array {name!r} declares {shape} ({nbytes:,} bytes); the limit is {max_total_bytes:,}",
                )
            header_len = f.tell()
            if info.file_size - header_len != nbytes:
                raise Rejected(
                    "npz_invalid",
                    f"array {name!r} declares {nbytes:,} bytes of data but holds "
                    f"{max(info.file_size - header_len, 0):,}",
                )
            raw = f.read(nbytes + 1)
        if len(raw) != nbytes:
            raise Rejected("npz_invalid", f"array {name!r} is truncated")
        total += nbytes
        arr = np.frombuffer(raw, dtype=dtype)
        arr = arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)
        out[name] = arr
    return out
