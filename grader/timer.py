"""A small wall-clock timer for the grader's per-step timings."""

from __future__ import annotations

import time


class Timer:
    """Marks on one clock; `ms(a, b)` is the time between two marks (the result's timings)."""

    def __init__(self) -> None:
        self.marks = {"start": time.perf_counter()}

    def mark(self, name: str) -> None:
        self.marks[name] = time.perf_counter()

    def ms(self, start: str, end: str) -> float:
        return (self.marks[end] - self.marks[start]) * 1000
