"""Grade policies: how a competition turns a final score (or rank) into a course grade, 0–100.

One owner for the rule, used by the grades CSV and by LMS grade passback. A policy is stored on
the competition as JSON and checked here before it is saved:

- {"kind": "linear", "low": 0.90, "high": 0.99}: 0 at `low`, 100 at `high`, linear between,
  clamped (low and high are scores: e.g. two baselines' private scores);
- {"kind": "thresholds", "steps": [[0.95, 100], [0.90, 80], [0.0, 50]]}: the grade of the highest
  threshold the score reaches (0 below all of them);
- {"kind": "ranks", "bands": [[0.10, 100], [0.50, 85], [1.0, 70]]}: by rank among the students
  and teams (baselines not counted) as a fraction of them: the first band whose fraction covers
  the rank;
- every kind: "none": the grade of a student without a scored entry (default 0, always stated).

A late entry loses `late_penalty_pct` of its grade per day late (the competition's late policy),
never below 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

KINDS = ("linear", "thresholds", "ranks")


class PolicyError(ValueError):
    """The policy's JSON cannot be used; the message says what to fix."""


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PolicyError(f"{what} must be a finite number")
    return float(value)


def _pairs(value: Any, what: str) -> list[tuple[float, float]]:
    if not isinstance(value, list) or not value or len(value) > 50:
        raise PolicyError(f"{what}: a list of 1 to 50 [value, grade] pairs")
    out = []
    for item in value:
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise PolicyError(f"{what}: each entry is a [value, grade] pair")
        out.append((_number(item[0], what), _grade(item[1], what)))
    return out


def _grade(value: Any, what: str) -> float:
    g = _number(value, what)
    if not 0 <= g <= 100:
        raise PolicyError(f"{what}: grades are between 0 and 100")
    return g


def policy_check(policy: dict[str, Any]) -> dict[str, Any]:
    """The policy, normalised; PolicyError with the reason if it cannot be used. {} = none."""
    if not policy:
        return {}
    kind = policy.get("kind")
    if kind not in KINDS:
        raise PolicyError(f"kind must be one of {', '.join(KINDS)}")
    out: dict[str, Any] = {"kind": kind, "none": _grade(policy.get("none", 0), "none")}
    if kind == "linear":
        low, high = _number(policy.get("low"), "low"), _number(policy.get("high"), "high")
        if not high > low:
            raise PolicyError("high must be above low")
        out |= {"low": low, "high": high}
    elif kind == "thresholds":
        out["steps"] = sorted(_pairs(policy.get("steps"), "steps"), reverse=True)
    else:
        bands = sorted(_pairs(policy.get("bands"), "bands"))
        if any(not 0 < f <= 1 for f, _ in bands):
            raise PolicyError("bands: rank fractions are above 0 and at most 1")
        out["bands"] = bands
    unknown = set(policy) - set(out) - {"kind"}
    if unknown:
        raise PolicyError(f"unknown key(s): {', '.join(sorted(unknown))}")
    return out


@dataclass(frozen=True)
class Entry:
    score: float | None  # None: no scored entry
    rank: int | None = None  # among students and teams, 1 = best
    entrants: int = 0
    late_days: int = 0


def grade_of(
    policy: dict[str, Any], entry: Entry, *, late_penalty_pct: float = 0.0
) -> float | None:
    """The grade (0–100) for one student; None when the competition has no policy."""
    if not policy:
        return None
    if entry.score is None:
        return float(policy["none"])
    kind = policy["kind"]
    if kind == "linear":
        share = (entry.score - policy["low"]) / (policy["high"] - policy["low"])
        grade = min(max(share, 0.0), 1.0) * 100
    elif kind == "thresholds":
        grade = next((g for t, g in policy["steps"] if entry.score >= t), 0.0)
    else:
        fraction = (entry.rank or entry.entrants) / max(entry.entrants, 1)
        grade = next((g for f, g in policy["bands"] if fraction <= f + 1e-12), 0.0)
    if entry.late_days:
        grade *= max(0.0, 1 - late_penalty_pct / 100 * entry.late_days)
    return round(grade, 2)


def policy_describe(policy: dict[str, Any]) -> str:
    """One line for pages and the CSV's readers."""
    if not policy:
        return "no grade policy"
    kind, none = policy["kind"], policy["none"]
    if kind == "linear":
        text = f"linear: 0 at score {policy['low']:.4f}, 100 at {policy['high']:.4f}"
    elif kind == "thresholds":
        text = "thresholds: " + ", ".join(f"≥{t:g} → {g:g}" for t, g in policy["steps"])
    else:
        text = "rank bands: " + ", ".join(f"top {f:.0%} → {g:g}" for f, g in policy["bands"])
    return f"{text}; no scored entry → {none:g}"
