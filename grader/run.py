"""Running a prepared model in a sandbox child: the held-out set, then the diagnosis (is another
way of feeding it clearly better?) on the public sample, all under one wall-time deadline for
the whole submission."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader import adapt, diagnose, outputs
from grader.datasets import Dataset
from grader.errors import Rejected, RunFailed
from grader.prepared import Prepared
from grader.preprocess import describe
from grader.sandbox import ChildProcess, SandboxPool, default_pool, run_limits_header
from grader.timer import Timer
from grader.types import Limits, Preprocess

SAMPLE_SIZE = 256


class Deadline:
    """One wall-time limit for the whole submission: loading, every diagnosis run and the
    held-out run share it (each step gets what is left, not the full limit again)."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.at = time.monotonic() + limit_s

    def left(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise RunFailed.time_limit(self.limit_s)
        return left


def _run(
    child: ChildProcess,
    prep: Prepared,
    images: tuple[str, np.ndarray],
    *,
    pre: Preprocess,
    plan: adapt.InputPlan,
    deadline: Deadline,
    progress: Callable[[float], None] | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Run images (a cache key and the array) through the loaded model."""
    time_s = deadline.left()
    header, arrays = child.run_images(*images)
    header.update(
        op="run",
        plan=plan.to_wire(),
        mean=list(pre.mean),
        std=list(pre.std),
        input_name=prep.input_name,
        time_s=time_s,
    )
    return child.request(header, arrays, time_s=time_s, progress=progress, limit_s=deadline.limit_s)


def _load(
    child: ChildProcess, model_bytes: bytes, *, limits: Limits, deadline: Deadline
) -> dict[str, Any]:
    loaded, _ = child.request(
        {"op": "load", **run_limits_header(limits)},
        {"model": np.frombuffer(model_bytes, dtype=np.uint8)},
        time_s=deadline.left(),
        limit_s=limits.time_s,
    )
    return loaded


def _diagnose(
    child: ChildProcess,
    prep: Prepared,
    sample: Dataset,
    dataset: Dataset,
    *,
    deadline: Deadline,
    limits: Limits,
) -> tuple[float, str | None, str | None]:
    """Accuracy on the public sample with the declared settings, and a suggestion if another
    preprocessing or layout does clearly better, with its preset when it is one
    (grader.diagnose)."""
    idx = diagnose.sample_indices(len(sample), SAMPLE_SIZE)
    imgs, lbls = sample.images[idx], sample.labels[idx]

    loaded = [prep.model_bytes]  # the model in the child now: a variant candidate swaps it

    def run_sample(cand: diagnose.Candidate, lo: int, hi: int) -> float:
        wanted = cand.model_bytes or prep.model_bytes
        if wanted is not loaded[0]:
            _load(child, wanted, limits=limits, deadline=deadline)
            loaded[0] = wanted
        images = (f"{sample.sha256}:sample{len(idx)}:{lo}-{hi}", imgs[lo:hi])
        _, outs = _run(child, prep, images, pre=cand.pre, plan=cand.plan, deadline=deadline)
        try:
            got = outputs.interpret(outs, hi - lo, dataset.n_classes)
        except Rejected:
            return 0.0
        return float((got.predictions == lbls[lo:hi]).mean())

    channels = dataset.image_shape[2]
    declared = diagnose.Candidate(prep.preprocess, prep.plan, describe(prep.preprocess))
    others = diagnose.alternatives(prep.preprocess, prep.plan, channels)
    others += diagnose.variant_candidates(declared, prep.variants)
    # The last run of all (the child loads the next submission's model afresh): a variant left
    # loaded in it is never scored.
    return diagnose.diagnose_suggesting(run_sample, declared, others, len(imgs))


@dataclass
class Ran:
    """What the sandbox gave back for one submission: its load and run replies, the outputs read
    as class scores, and the diagnosis on the public sample (or why it was cut)."""

    loaded: dict[str, Any]
    reply: dict[str, Any]
    got: outputs.Interpreted
    diagnosis: str | None = None
    suggested_preprocess: str | None = None  # the preset the diagnosis suggests, if one
    sample_accuracy: float | None = None
    cut: str = ""


def run_in_sandbox(
    prep: Prepared,
    dataset: Dataset,
    *,
    sample: Dataset | None,
    limits: Limits,
    deadline: Deadline,
    pool: SandboxPool | None,
    progress: Callable[[float], None] | None,
    timer: Timer,
) -> Ran:
    """Load the model in a sandbox child, run the held-out set, interpret the outputs, and
    diagnose it on the public sample, all under one deadline."""
    sandboxes = pool or default_pool()
    child = sandboxes.acquire()
    clean = False
    try:
        loaded = _load(child, prep.model_bytes, limits=limits, deadline=deadline)
        timer.mark("loaded")
        held_out = (dataset.sha256, dataset.images)
        reply, outs = _run(
            child,
            prep,
            held_out,
            pre=prep.preprocess,
            plan=prep.plan,
            deadline=deadline,
            progress=progress,
        )
        timer.mark("inferred")
        clean = True  # the child did its job; what follows is about the model's outputs
        ran = Ran(loaded, reply, outputs.interpret(outs, len(dataset), dataset.n_classes))
        # The diagnosis looks for a clearly better way to feed the model, at any score; a
        # held-out score that leaves no room for one costs no sample run.
        n = dataset.n_scored  # images after these are only predicted (Dataset.scored)
        accuracy = float((ran.got.predictions[:n] == dataset.labels[:n]).mean())
        if sample is not None and len(sample) and diagnose.worth_probing(accuracy):
            try:
                ran.sample_accuracy, ran.diagnosis, ran.suggested_preprocess = _diagnose(
                    child, prep, sample, dataset, deadline=deadline, limits=limits
                )
            except RunFailed as e:  # the held-out score stands; only the explanation is lost
                clean = False
                ran.cut = f"the diagnosis on the public sample was stopped ({e.code})"
        timer.mark("diagnosed")
    finally:
        sandboxes.release(child, clean=clean)
    return ran
