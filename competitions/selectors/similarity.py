"""Similarity signals for instructors (nothing of this is shown to students): pairs of entries
from different entrants that are the same file, the same weights (renamed or reordered, the
grader's weights fingerprint), a reference baseline handed in as a student's, or whose held-out
predictions share far more wrong answers than independently trained models do.

The last is a one-sided binomial test: of the images both models get wrong, how many get the
same wrong answer, against the rate independently trained pairs reach. That rate is measured,
not assumed from chance (1 in 9): independent models agree on hard images far more often than
chance. It is taken from the competition's own baselines (the highest rate of any pair, never below
SAME_RECIPE_FLOOR), and where fewer than two are scored, from DEFAULT_SAME_WRONG."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from competitions.dataset_cache import dataset_load
from competitions.models import Competition, Submission

# Used when fewer than two baselines are scored: the highest same-wrong-answer rate measured among
# pairs of independently trained MNIST models (10,000 test images; docs/SIMILARITY.md): the eight
# reference baselines reach 0.94 (mnist_cnn_deep, mnist_lenet_small), two softmax regressions fitted
# by full-batch gradient descent on the same 1,000 images from different initial weights 0.986.
DEFAULT_SAME_WRONG = 0.99
# Never test against less than this, whatever the baselines show: two runs of the NumPy starter
# kit (different seeds, the same 1,000 images, 10 epochs) agree on 0.878 of their shared errors.
SAME_RECIPE_FLOOR = 0.9
ALPHA = 1e-6  # p-value below which a pair is listed; many pairs are tested, so it is strict
MIN_SHARED = 10  # fewer shared errors than this say nothing either way
MAX_ENTRIES = 150  # the most recent scored entries compared pairwise (O(n^2) pairs)


@dataclass(frozen=True)
class Pair:
    a: Submission
    b: Submission
    signal: str  # same_file | same_weights | baseline_copy | same_errors
    evidence: str

    @property
    def members(self) -> tuple[Submission, Submission]:
        return self.a, self.b


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in log space (n is at most the test set)."""
    if k <= 0:
        return 1.0
    if p >= 1.0:
        return 1.0
    total = 0.0
    for j in range(k, n + 1):
        log_term = (
            math.lgamma(n + 1)
            - math.lgamma(j + 1)
            - math.lgamma(n - j + 1)
            + j * math.log(p)
            + (n - j) * math.log1p(-p)
        )
        total += math.exp(log_term)
    return min(total, 1.0)


def _entrant(s: Submission) -> str:
    if s.is_baseline:
        return f"b:{s.pk}"
    return f"t:{s.team_id}" if s.team_id else f"u:{s.user_id}"


def _same_wrong(pa: np.ndarray, pb: np.ndarray, labels: np.ndarray) -> tuple[int, int]:
    both = (pa != labels) & (pb != labels)
    return int(both.sum()), int((both & (pa == pb)).sum())


def similarity_pairs(*, competition: Competition) -> tuple[list[Pair], float, str]:
    """The flagged pairs, the same-wrong rate they were tested against, and where it came from."""
    subs = list(
        Submission.objects.filter(
            competition=competition, status=Submission.Status.SCORED, hidden=False
        )
        .select_related("user", "team")
        .order_by("-created_at")[:MAX_ENTRIES]
    )
    labels = dataset_load(record=competition.dataset).labels
    preds = {
        s.pk: np.frombuffer(bytes(s.predictions), dtype=np.int16)
        for s in subs
        if s.predictions is not None and len(s.predictions) == 2 * len(labels)
    }
    baselines = [s for s in subs if s.is_baseline and s.pk in preds]
    rates = [
        k / n
        for a, b in itertools.combinations(baselines, 2)
        for n, k in [_same_wrong(preds[a.pk], preds[b.pk], labels)]
        if n >= MIN_SHARED
    ]
    p0, source = (
        (
            max(*rates, SAME_RECIPE_FLOOR),
            f"the highest rate among {len(baselines)} baselines' pairs, at least "
            f"{SAME_RECIPE_FLOOR} (two runs of the starter kit)",
        )
        if rates
        else (DEFAULT_SAME_WRONG, "measured on independently trained MNIST models")
    )
    pairs = []
    for a, b in itertools.combinations(subs, 2):
        if _entrant(a) == _entrant(b) or (a.is_baseline and b.is_baseline):
            continue
        pair = _compare(a, b, preds, labels, p0)
        if pair is not None:
            pairs.append(pair)
    return pairs, p0, source


def _compare(
    a: Submission, b: Submission, preds: dict[Any, np.ndarray], labels: np.ndarray, p0: float
) -> Pair | None:
    baseline = a.is_baseline or b.is_baseline
    if a.sha256 == b.sha256:
        return Pair(a, b, "baseline_copy" if baseline else "same_file", f"sha256 {a.sha256[:16]}…")
    wa, wb = ((s.result or {}).get("weights_hash") for s in (a, b))
    if wa and wa == wb:
        signal = "baseline_copy" if baseline else "same_weights"
        return Pair(a, b, signal, "the same weights in a different file (renamed or reordered)")
    if a.pk not in preds or b.pk not in preds:
        return None
    n, k = _same_wrong(preds[a.pk], preds[b.pk], labels)
    if n < MIN_SHARED:
        return None
    p_value = binomial_sf(k, n, p0)
    if p_value >= ALPHA:
        return None
    return Pair(
        a,
        b,
        "same_errors",
        f"{k} of the {n} images both get wrong have the same wrong answer ({k / n:.0%}; "
        f"independent models: at most {p0:.0%}); p = {p_value:.1e}",
    )
