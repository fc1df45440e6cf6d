"""The sanity check: on a small labelled public sample (training images, never the held-out set),
does another preprocessing or pixel order do clearly better than the declared one? If so, say so,
at any score, so the student learns why the score is what it is.

The cost stays small for a model declared right: one probe, every candidate on a few images
(PROBE_SIZE); only the candidates that beat the declared one there (and the declared one) run on
the rest of the sample. A model whose
held-out score leaves no room for a clear improvement is not probed at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from grader.adapt import InputPlan
from grader.prepared import Variant
from grader.preprocess import CHANNEL_PRESETS, PRESETS, describe
from grader.types import Preprocess

MARGIN = 0.03  # an alternative must beat the declared accuracy by this much to be suggested
NEAR_CHANCE = 0.25  # with nothing better found, below this the model looks untrained
PROBE_SIZE = 64  # images of the sample every candidate sees first


@dataclass(frozen=True)
class Candidate:
    """One way of feeding the model: the declared one, or an alternative to try."""

    pre: Preprocess
    plan: InputPlan
    what: str  # how the result names it, e.g. "0..255 inputs ('raw')"
    hint: str = ""  # the question the suggestion asks, e.g. "was it trained on raw pixels?"
    action: str = "Resubmit declaring that preprocessing."
    # Another reading of the upload itself (prepared.Variant, e.g. a NumPy network's other
    # flatten order): the child loads this model for the candidate's runs.
    model_bytes: bytes | None = None


RunFn = Callable[[Candidate, int, int], float]  # accuracy on the sample's images [lo, hi)

_HINTS = {
    "raw": "was it trained on raw pixels?",
    "unit": "was it trained on pixels scaled to [0,1]?",
    "symmetric": "was it trained on pixels scaled to [-1,1]?",
}
_SWAPS = {"nchw": "nhwc", "nhwc": "nchw", "flat_hwc": "flat_chw", "flat_chw": "flat_hwc"}


def variant_candidates(declared: Candidate, variants: list[Variant]) -> list[Candidate]:
    """The upload's other readings as candidates: the declared feeding, another model."""
    return [
        Candidate(
            declared.pre,
            declared.plan,
            v.label,
            action=f"{v.advice[0].upper()}{v.advice[1:]}, and resubmit.",
            model_bytes=v.model_bytes,
        )
        for v in variants
    ]


def alternatives(pre: Preprocess, plan: InputPlan, channels: int) -> list[Candidate]:
    """Every alternative the diagnosis tries: the one place they are listed (a candidate
    that feeds a rebuilt model belongs here too)."""
    out: list[Candidate] = []
    for name, (mean, std) in PRESETS.items():
        if plan.dtype == "uint8":
            break  # raw pixels go in as they are: no preprocessing to change
        if name == pre.name or (name in CHANNEL_PRESETS and channels != 3):
            continue
        alt = Preprocess(name, mean, std, "diagnosis")
        hint = _HINTS.get(name, "was it trained with that normalisation?")
        out.append(Candidate(alt, plan, f"{describe(alt)} ('{name}')", hint))
    swap = _SWAPS.get(plan.layout)
    if swap and channels == 3 and swap in plan.fits:
        out.append(
            Candidate(
                pre,
                replace(plan, layout=swap),
                f"{swap} pixel order",
                "are the pixels in a different order?",
            )
        )
    return out


def worth_probing(held_out_accuracy: float) -> bool:
    """No clear improvement is possible above 1 - MARGIN: such a model costs no sample run."""
    return held_out_accuracy < 1.0 - MARGIN


def diagnose(
    run: RunFn, declared: Candidate, others: list[Candidate], n_sample: int
) -> tuple[float, str | None]:
    """Accuracy on the sample with the declared settings, and a suggestion when another
    candidate does clearly better (or a question when the model scores near chance)."""
    acc, text, _ = diagnose_suggesting(run, declared, others, n_sample)
    return acc, text


def diagnose_suggesting(
    run: RunFn, declared: Candidate, others: list[Candidate], n_sample: int
) -> tuple[float, str | None, str | None]:
    """`diagnose`, plus the preset to resubmit with when what it suggests is a preset (not a
    pixel order, not another reading of the file): a page offers that as a one-click
    resubmission."""
    probe = min(PROBE_SIZE, n_sample)
    on_probe = {declared: run(declared, 0, probe)}
    base = on_probe[declared]
    for cand in others:
        on_probe[cand] = run(cand, 0, probe)
    kept = [c for c in others if on_probe[c] > base]  # only these can be clearly better
    if not kept and base >= NEAR_CHANCE:
        return base, None, None  # the probe ruled every alternative out: nothing more runs

    def whole(cand: Candidate) -> float:  # the rest of the sample, added to the probe's images
        if probe == n_sample:
            return on_probe[cand]
        return (on_probe[cand] * probe + run(cand, probe, n_sample) * (n_sample - probe)) / n_sample

    declared_acc = whole(declared)
    best: tuple[float, Candidate] | None = None
    for cand in kept:
        acc = whole(cand)
        if best is None or acc > best[0]:
            best = (acc, cand)
    if best is not None and best[0] >= declared_acc + MARGIN:
        acc, alt = best
        preset = alt.model_bytes is None and alt.plan == declared.plan and alt.pre != declared.pre
        return (
            declared_acc,
            (
                f"scores {declared_acc:.0%} with {declared.what} but {acc:.0%} with {alt.what} "
                f"on {n_sample} public training images: {alt.hint} {alt.action}"
            ).replace("  ", " "),
            alt.pre.name if preset else None,
        )
    if declared_acc < NEAR_CHANCE:
        return (
            declared_acc,
            (
                f"the model scores {declared_acc:.0%} on {n_sample} public training images "
                f"with {declared.what}, and no other preprocessing does better: is it trained?"
            ),
            None,
        )
    return declared_acc, None, None


def sample_indices(n: int, k: int, seed: int = 0) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).choice(n, size=min(k, n), replace=False))
