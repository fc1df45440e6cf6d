"""Counting an ONNX file's entries from its protobuf wire format, before it is parsed.

Parsing builds every message at once: 10 MB of empty NodeProtos is millions of objects and gigabytes
before any count can be checked. This reads only tags and lengths of the ModelProto's fields, of
its graph's and of its functions' (nothing is copied), and stops as soon as a bound is passed, so
the work is bounded by the bounds, not by the file. A file this reader cannot follow is left to
the parser, which says what is wrong with it.

Field numbers: onnx/onnx.proto3 (ModelProto graph = 7, functions = 25; GraphProto node = 1;
FunctionProto node = 7).
"""

from __future__ import annotations

from collections.abc import Iterator

from grader.errors import Rejected

MAX_NODES = 100_000  # operators in the main graph and in all functions together
MAX_ENTRIES = 250_000  # every repeated entry: nodes, initializers, value_info, inputs, functions
MAX_FUNCTIONS = 1_000

_MODEL_GRAPH, _MODEL_FUNCTIONS = 7, 25
_GRAPH_NODE = 1
_FUNCTION_NODE = 7


class _Unreadable(Exception):
    """The bytes do not follow the wire format: the parser will say why."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise _Unreadable
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(field number, payload start, payload end) of each length-delimited field; others skipped."""
    pos = start
    while pos < end:
        tag, pos = _varint(data, pos)
        wire = tag & 7
        if wire == 0:
            _, pos = _varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > end:
                raise _Unreadable
            yield tag >> 3, pos, pos + size
            pos += size
        else:  # groups (3, 4) have no place in an ONNX file
            raise _Unreadable
    if pos != end:
        raise _Unreadable


class _Counter:
    def __init__(self) -> None:
        self.nodes = self.entries = self.functions = 0

    def entry(self, *, node: bool = False) -> None:
        self.entries += 1
        self.nodes += node
        if self.nodes > MAX_NODES:
            raise Rejected(
                "too_complex",
                f"the model has more than {MAX_NODES:,} operators; the grader takes at most that many",
            )
        if self.entries > MAX_ENTRIES:
            raise Rejected(
                "too_complex",
                f"the model has more than {MAX_ENTRIES:,} entries (operators, weights, value infos)",
            )


def check_counts(data: bytes) -> None:
    """Raise Rejected("too_complex") when the file holds more entries than the bounds allow."""
    counter = _Counter()
    try:
        for field, start, end in _fields(data, 0, len(data)):
            if field == _MODEL_GRAPH:
                for sub, _, _ in _fields(data, start, end):
                    counter.entry(node=sub == _GRAPH_NODE)
            elif field == _MODEL_FUNCTIONS:
                counter.functions += 1
                if counter.functions > MAX_FUNCTIONS:
                    raise Rejected(
                        "too_complex", f"the model defines more than {MAX_FUNCTIONS:,} functions"
                    )
                counter.entry()
                for sub, _, _ in _fields(data, start, end):
                    counter.entry(node=sub == _FUNCTION_NODE)
            else:
                counter.entry()
    except _Unreadable:
        return  # not the wire format: parse_model refuses it with the precise reason
