"""Grade policies against hand-computed grades (competitions/grade_policy.py: no database)."""

from __future__ import annotations

import pytest

from competitions.grade_policy import Entry, PolicyError, grade_of, policy_check, policy_describe


def test_linear_is_zero_at_low_hundred_at_high_clamped_outside():
    p = policy_check({"kind": "linear", "low": 0.90, "high": 0.98})
    assert grade_of(p, Entry(score=0.90)) == 0.0
    assert grade_of(p, Entry(score=0.94)) == 50.0  # (0.94 - 0.90) / 0.08
    assert grade_of(p, Entry(score=0.98)) == 100.0
    assert grade_of(p, Entry(score=0.99)) == 100.0 and grade_of(p, Entry(score=0.5)) == 0.0


def test_thresholds_give_the_grade_of_the_highest_step_reached():
    p = policy_check({"kind": "thresholds", "steps": [[0.9, 80], [0.95, 100], [0.5, 40]]})
    assert [grade_of(p, Entry(score=s)) for s in (0.97, 0.95, 0.93, 0.6, 0.2)] == [
        100.0,
        100.0,
        80.0,
        40.0,
        0.0,
    ]


def test_rank_bands_by_fraction_of_entrants():
    p = policy_check({"kind": "ranks", "bands": [[0.5, 85], [0.1, 100], [1.0, 70]]})
    # 20 entrants: rank 2 is the top 10%, rank 3 the top 15% (-> the 50% band), rank 20 last.
    assert grade_of(p, Entry(score=0.9, rank=2, entrants=20)) == 100.0
    assert grade_of(p, Entry(score=0.9, rank=3, entrants=20)) == 85.0
    assert grade_of(p, Entry(score=0.9, rank=10, entrants=20)) == 85.0
    assert grade_of(p, Entry(score=0.9, rank=11, entrants=20)) == 70.0


def test_no_scored_entry_gets_the_stated_grade_not_a_silent_zero():
    p = policy_check({"kind": "linear", "low": 0.5, "high": 0.9, "none": 20})
    assert grade_of(p, Entry(score=None)) == 20.0
    assert "no scored entry → 20" in policy_describe(p)
    assert grade_of({}, Entry(score=0.7)) is None  # no policy, no grade


def test_late_days_cost_the_penalty_per_day_never_below_zero():
    p = policy_check({"kind": "thresholds", "steps": [[0.9, 100]]})
    assert grade_of(p, Entry(score=0.95, late_days=2), late_penalty_pct=10) == 80.0
    assert grade_of(p, Entry(score=0.95, late_days=12), late_penalty_pct=10) == 0.0


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"kind": "curve"}, "kind must be one of"),
        ({"kind": "linear", "low": 0.9, "high": 0.8}, "high must be above low"),
        ({"kind": "linear", "low": "a", "high": 1}, "low must be a finite number"),
        ({"kind": "linear", "low": 0, "high": float("inf")}, "high must be a finite number"),
        ({"kind": "thresholds", "steps": [[0.9, 120]]}, "between 0 and 100"),
        ({"kind": "thresholds", "steps": []}, "a list of 1 to 50"),
        ({"kind": "ranks", "bands": [[0, 100]]}, "rank fractions are above 0"),
        ({"kind": "linear", "low": 0, "high": 1, "curve": 2}, "unknown key(s): curve"),
    ],
)
def test_unusable_policies_are_refused_with_the_reason(policy, message):
    with pytest.raises(PolicyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        policy_check(policy)
