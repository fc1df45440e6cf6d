"""The grading pipeline: prepare (grader.prepare), run (grader.run), interpret and report scores."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from grader.analysis import Analysis
from grader.datasets import Dataset
from grader.metrics import compute_scores
from grader.prepared import Prepared
from grader.run import Deadline, Ran, run_in_sandbox
from grader.sandbox import SandboxPool
from grader.timer import Timer
from grader.types import DEFAULT_LIMITS, GradeResult, Limits, Preprocess


def check_upload(
    data: bytes,
    filename: str,
    *,
    image_shape: tuple[int, int, int] = (28, 28, 1),
    n_classes: int = 10,
    preprocess: str | None = None,
    mean: Any = None,
    std: Any = None,
    layout: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> dict[str, Any]:
    """The checks run at upload, in the analysis child (no onnxruntime, nothing parsed in this
    process): raises Rejected, or returns what was found."""
    with Analysis(limits=limits) as analysis:
        p = analysis.prepare(
            data,
            filename,
            image_shape=image_shape,
            n_classes=n_classes,
            preprocess_name=preprocess,
            mean=mean,
            std=std,
            layout=layout,
        )
    return {
        "format": p.fmt,
        "layout": p.plan.layout,
        "batch_mode": p.plan.batch_mode,
        "preprocess": p.preprocess.to_dict(),
        "adaptation": p.notes,
        "file_bytes": p.file_bytes,
        "params": p.params,
    }


def _notes(prep: Prepared, ran: Ran, unavailable: str | None) -> list[str]:
    got = ran.got
    notes = list(prep.notes) + ([ran.cut] if ran.cut else [])
    if unavailable:
        notes.append(unavailable)
    if ran.reply.get("ignored_outputs"):
        ignored = ", ".join(ran.reply["ignored_outputs"])
        notes.append(f"outputs ignored (not numeric tensors): {ignored}")
    notes.append(
        f"preprocessing: {preprocess_text(prep.preprocess)} (from {prep.preprocess.source})"
    )
    notes.append(
        f"output {got.output_name!r} read as {got.kind.replace('_', ' ')}"
        + (" (softmax applied for log-loss)" if got.softmax_applied else "")
    )
    return notes


def _report(
    prep: Prepared, ran: Ran, dataset: Dataset, eff: dict[str, Any], timer: Timer, *, n: int
) -> GradeResult:
    """Scores (of the first n images), adaptation notes and timings of one graded submission."""
    got = ran.got
    probs = None if got.probabilities is None else got.probabilities[:n]
    scores = compute_scores(dataset.labels[:n], got.predictions[:n], probs, dataset.n_classes)
    scores["softmax_applied"] = got.softmax_applied
    if ran.sample_accuracy is not None:
        scores["sample_accuracy"] = ran.sample_accuracy
    timer.mark("scored")
    timings = {
        "check_ms": timer.ms("start", "checked"),
        "session_ms": float(ran.loaded.get("load_ms", 0.0)),
        "load_total_ms": timer.ms("checked", "loaded"),
        "inference_ms": float(ran.reply.get("run_ms", 0.0)),
        "run_total_ms": timer.ms("loaded", "inferred"),
        "diagnosis_ms": timer.ms("inferred", "diagnosed"),
        "scoring_ms": timer.ms("diagnosed", "scored"),
        "total_ms": timer.ms("start", "scored"),
    }
    return GradeResult(
        accuracy=scores["accuracy"],
        scores=scores,
        n_images=n,
        dataset_sha256=dataset.sha256,
        preprocess=prep.preprocess,
        layout=prep.plan.layout,
        batch_mode=prep.plan.batch_mode,
        provider=str(ran.loaded.get("provider", "")),
        limits_not_applied=[str(x) for x in ran.loaded.get("limits_not_applied", [])],
        params=eff["params"],
        macs=eff["macs"],
        file_bytes=prep.file_bytes,
        ms_per_image=timings["inference_ms"] / max(len(dataset), 1),
        adaptation=_notes(prep, ran, eff.get("unavailable")),
        diagnosis=ran.diagnosis,
        suggested_preprocess=ran.suggested_preprocess,
        weights_hash=prep.weights_hash,
        summary=eff["summary"],
        output_kind=got.kind,
        timings=timings,
        predictions=got.predictions,
        probabilities=got.probabilities,
    )


def grade(
    data: bytes,
    filename: str,
    dataset: Dataset,
    *,
    preprocess: str | None = None,
    mean: str | Sequence[float] | None = None,
    std: str | Sequence[float] | None = None,
    layout: str | None = None,
    sample: Dataset | None = None,
    limits: Limits = DEFAULT_LIMITS,
    pool: SandboxPool | None = None,
    progress: Callable[[float], None] | None = None,
    analysis_pool: SandboxPool | None = None,
) -> GradeResult:
    """Score one model on a held-out dataset. Raises Rejected or RunFailed with the reason.

    Only the first `dataset.n_scored` images count for the scores and the diagnosis;
    `predictions` and `probabilities` cover every image (Dataset.scored).

    Prepare (static checks and adaptation, in the analysis child), run (the inference child,
    while the analysis child measures efficiency), report (scores), all under one deadline."""
    timer = Timer()
    deadline = Deadline(limits.time_s)
    with Analysis(limits=limits, pool=analysis_pool) as analysis:
        prep = analysis.prepare(
            data,
            filename,
            image_shape=dataset.image_shape,
            n_classes=dataset.n_classes,
            preprocess_name=preprocess,
            mean=mean,
            std=std,
            layout=layout,
            time_s=deadline.left(),
        )
        timer.mark("checked")
        analysis.start_efficiency()
        ran = run_in_sandbox(
            prep,
            dataset,
            sample=sample,
            limits=limits,
            deadline=deadline,
            pool=pool,
            progress=progress,
            timer=timer,
        )
        eff = analysis.efficiency(time_s=deadline.at - time.monotonic())
    return _report(prep, ran, dataset, eff, timer, n=dataset.n_scored)


def preprocess_text(p: Preprocess) -> str:
    def fmt(v: tuple[float, ...]) -> str:
        return ", ".join(f"{x:g}" for x in v)

    return f"{p.name}: x = (pixel/255 - [{fmt(p.mean)}]) / [{fmt(p.std)}]"
