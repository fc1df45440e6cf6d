"""The sanity check: on a small labelled public sample (training images, never the held-out set),
does the declared preprocessing make sense? If it gives near-chance accuracy while another preset
or layout does much better, say so, so the student learns why the score is low.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from grader.adapt import InputPlan
from grader.preprocess import PRESETS, describe
from grader.types import Preprocess

POOR = 0.8  # below this on the sample, alternatives are tried (256 images each: cheap)
NEAR_CHANCE = 0.25  # with nothing better found, below this the model looks untrained
MARGIN = 0.25  # an alternative must beat the declared accuracy by this much to be suggested

RunFn = Callable[[Preprocess, InputPlan], float]  # accuracy on the sample


def alternatives(
    pre: Preprocess, plan: InputPlan, channels: int
) -> list[tuple[Preprocess, InputPlan]]:
    out: list[tuple[Preprocess, InputPlan]] = []
    for name, (mean, std) in PRESETS.items():
        if name == pre.name or (name == "cifar10" and channels != 3):
            continue
        out.append((Preprocess(name, mean, std, "diagnosis"), plan))
    swaps = {"nchw": "nhwc", "nhwc": "nchw", "flat_hwc": "flat_chw", "flat_chw": "flat_hwc"}
    if plan.layout in swaps and channels == 3 and swaps[plan.layout] in plan.fits:
        out.append((pre, replace(plan, layout=swaps[plan.layout])))
    return out


def _what(pre: Preprocess, plan: InputPlan, base_plan: InputPlan) -> str:
    if plan.layout != base_plan.layout:
        return f"{plan.layout} pixel order"
    return f"{describe(pre)} ('{pre.name}')"


def diagnose(
    run: RunFn, pre: Preprocess, plan: InputPlan, channels: int, n_sample: int
) -> tuple[float, str | None]:
    """Accuracy on the sample with the declared settings, and a suggestion when another does better."""
    declared, text, _ = diagnose_suggesting(run, pre, plan, channels, n_sample)
    return declared, text


def diagnose_suggesting(
    run: RunFn, pre: Preprocess, plan: InputPlan, channels: int, n_sample: int
) -> tuple[float, str | None, str | None]:
    """`diagnose`, plus the preset to resubmit with when what it suggests is a preset (not a
    pixel order): a page offers that as a one-click resubmission."""
    declared = run(pre, plan)
    if declared >= POOR or plan.dtype == "uint8":
        return declared, None, None
    best: tuple[float, Preprocess, InputPlan] | None = None
    for alt_pre, alt_plan in alternatives(pre, plan, channels):
        acc = run(alt_pre, alt_plan)
        if best is None or acc > best[0]:
            best = (acc, alt_pre, alt_plan)
    if best is None or best[0] < declared + MARGIN:
        if declared >= NEAR_CHANCE:
            return declared, None, None
        return (
            declared,
            (
                f"the model scores {declared:.0%} on {n_sample} public training images with "
                f"{describe(pre)}, and no other preprocessing does much better: is it trained?"
            ),
            None,
        )
    acc, alt_pre, alt_plan = best
    hint = {
        "raw": "was it trained on raw pixels?",
        "unit": "was it trained on pixels scaled to [0,1]?",
        "symmetric": "was it trained on pixels scaled to [-1,1]?",
    }.get(alt_pre.name, "was it trained with that normalisation?")
    suggested: str | None = alt_pre.name
    if alt_plan.layout != plan.layout:
        hint, suggested = "are the pixels in a different order?", None
    return (
        declared,
        (
            f"scores {declared:.0%} with {describe(pre)} but {acc:.0%} with "
            f"{_what(alt_pre, alt_plan, plan)} on {n_sample} public training images: {hint} "
            "Resubmit declaring that preprocessing."
        ),
        suggested,
    )


def sample_indices(n: int, k: int, seed: int = 0) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).choice(n, size=min(k, n), replace=False))
