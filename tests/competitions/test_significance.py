"""The leaderboard's statistics on hand-computed examples: exact McNemar p-values of small
tables, the bootstrap interval's determinism and coverage, correctness packing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from competitions.significance import (
    BOOTSTRAP_RESAMPLES,
    bootstrap_ci,
    correct_pack,
    correct_unpack,
    mcnemar_exact_p,
    paired_p,
    tied,
)


@pytest.mark.parametrize(
    ("b", "c", "p"),
    [
        (0, 0, 1.0),  # no discordant pair: nothing to tell them apart
        (3, 3, 1.0),  # min(1, 2 * 0.65625)
        (1, 5, 14 / 64),  # 2 * (C(6,0) + C(6,1)) / 2^6
        (5, 1, 14 / 64),  # symmetric
        (0, 5, 2 / 32),  # 0.0625: not significant at 0.05
        (0, 6, 2 / 64),  # 0.03125: significant
        (2, 8, 2 * (1 + 10 + 45) / 1024),  # 0.109375
        (10, 0, 2 / 1024),
    ],
)
def test_exact_mcnemar_p_values_match_hand_computed_tables(b, c, p):
    assert mcnemar_exact_p(b, c) == pytest.approx(p, rel=1e-12)


@pytest.mark.parametrize(("b", "c"), [(40, 70), (900, 1000), (2400, 2600), (0, 3000)])
def test_exact_mcnemar_matches_integer_arithmetic_for_thousands_of_discordant_pairs(b, c):
    n, k = b + c, min(b, c)
    exact = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)  # big integers
    assert mcnemar_exact_p(b, c) == pytest.approx(exact, rel=1e-9, abs=1e-300)


def test_paired_test_counts_only_discordant_images():
    first = np.array([1, 1, 1, 1, 1, 1, 0, 0, 1, 0], dtype=bool)
    second = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 0], dtype=bool)  # b = 6, c = 0
    assert paired_p(first, second) == pytest.approx(2 / 64)
    assert not tied(first, second)
    second[0] = True  # b = 5: p = 0.0625
    assert tied(first, second)


def test_bootstrap_interval_is_deterministic_and_brackets_the_accuracy():
    correct = np.random.default_rng(3).random(1000) < 0.9
    ci = bootstrap_ci(correct)
    assert ci == bootstrap_ci(correct.copy())  # same images, same interval, every time
    acc = correct.mean()
    low, high = ci
    assert low < acc < high
    # Normal approximation for comparison: ±1.96·sqrt(p(1-p)/n) = ±0.0186 at p = 0.9.
    half = 1.96 * np.sqrt(acc * (1 - acc) / len(correct))
    assert high - low == pytest.approx(2 * half, rel=0.15)


def test_bootstrap_interval_matches_resampling_the_images_themselves():
    """The binomial draw is the resample's accuracy: same distribution as drawing indices."""
    correct = np.random.default_rng(4).random(400) < 0.7
    rng = np.random.default_rng(99)
    picks = rng.integers(0, len(correct), size=(20 * BOOTSTRAP_RESAMPLES, len(correct)))
    direct = np.quantile(correct[picks].mean(axis=1), [0.025, 0.975])
    assert bootstrap_ci(correct) == pytest.approx(direct, abs=0.01)


def test_bootstrap_edges():
    assert bootstrap_ci(np.array([], dtype=bool)) is None
    assert bootstrap_ci(np.ones(50, dtype=bool)) == [1.0, 1.0]


def test_correctness_packs_to_bits_and_back():
    correct = np.random.default_rng(5).random(1001) < 0.5
    data = correct_pack(correct)
    assert len(data) == 126  # ceil(1001 / 8)
    assert np.array_equal(correct_unpack(data, 1001), correct)
    with pytest.raises(ValueError):
        correct_unpack(data, 2000)
