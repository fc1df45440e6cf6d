"""The grading pipeline: static checks, adaptation, sandboxed runs, interpretation and scores."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx

from grader import adapt, diagnose, efficiency, outputs, preprocess, validate
from grader.datasets import Dataset
from grader.errors import Rejected, RunFailed
from grader.metrics import compute_scores
from grader.sandbox import ChildProcess, SandboxPool, default_pool, run_limits_header
from grader.types import DEFAULT_LIMITS, GradeResult, Limits, Preprocess

SAMPLE_SIZE = 256


@dataclass
class Prepared:
    """A model that passed every static check, ready to run."""

    model: onnx.ModelProto
    checked: validate.CheckedModel
    plan: adapt.InputPlan
    preprocess: Preprocess
    metadata: dict[str, str]
    file_bytes: int
    fmt: str
    notes: list[str]


def _load(data: bytes, filename: str, limits: Limits) -> tuple[onnx.ModelProto, str]:
    if len(data) > limits.max_file_mb << 20:
        raise Rejected(
            "too_large",
            f"the file is {len(data) / 2**20:.0f} MB; the limit is {limits.max_file_mb} MB",
        )
    if filename.lower().endswith(".npz"):
        from grader.npnet import npz_to_onnx

        if not data:
            raise Rejected("empty_file", "the file is empty")
        return npz_to_onnx(data), "npz"
    return validate.parse_model(data), "onnx"


def prepare(
    data: bytes,
    filename: str,
    *,
    image_shape: tuple[int, int, int],
    n_classes: int,
    preprocess_name: str | None = None,
    mean: str | Sequence[float] | None = None,
    std: str | Sequence[float] | None = None,
    layout: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Prepared:
    model, fmt = _load(data, filename, limits)
    checked = validate.check_model(model)
    meta = {p.key: p.value for p in model.metadata_props}
    pre = preprocess.resolve_preprocess(
        name=preprocess_name, mean=mean, std=std, metadata=meta, channels=image_shape[2]
    )
    plan = adapt.plan_input(
        checked.input_dims, checked.input_dtype, image_shape, layout or meta.get("podium.layout")
    )
    _check_declared_outputs(checked, n_classes)
    notes = [*checked.notes, *plan.notes]
    if fmt == "npz":
        notes.insert(0, f"NumPy network converted to ONNX ({len(model.graph.node)} operators)")
    return Prepared(model, checked, plan, pre, meta, len(data), fmt, notes)


def _check_declared_outputs(checked: validate.CheckedModel, n_classes: int) -> None:
    """Refuse before running when every output's declared shape rules out class scores."""
    for _, elem, dims in checked.outputs:
        if elem == 0 or dims is None:
            return  # a sequence or an undeclared shape: known only once it runs
        rest = [d for d in dims[1:] if d != 1]
        if not rest or any(d is None for d in rest) or rest == [n_classes]:
            return
    shapes = ", ".join(
        f"{n} (" + ", ".join("N" if d is None else str(d) for d in (dims or [])) + ")"
        for n, _, dims in checked.outputs
    )
    raise Rejected(
        "bad_output",
        f"the model's outputs are {shapes}; expected scores for {n_classes} classes per image, (N, {n_classes})",
    )


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
    """The fast checks run at upload (no onnxruntime): raises Rejected, or returns what was found."""
    p = prepare(
        data,
        filename,
        image_shape=image_shape,
        n_classes=n_classes,
        preprocess_name=preprocess,
        mean=mean,
        std=std,
        layout=layout,
        limits=limits,
    )
    return {
        "format": p.fmt,
        "layout": p.plan.layout,
        "batch_mode": p.plan.batch_mode,
        "preprocess": p.preprocess.to_dict(),
        "adaptation": p.notes,
        "file_bytes": p.file_bytes,
        "params": efficiency.count_params(p.model),
    }


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
        input_name=prep.checked.input_name,
        time_s=time_s,
    )
    return child.request(header, arrays, time_s=time_s, progress=progress, limit_s=deadline.limit_s)


def _diagnose(
    child: ChildProcess, prep: Prepared, sample: Dataset, dataset: Dataset, deadline: Deadline
) -> tuple[float, str | None]:
    """Accuracy on the public sample with the declared settings, and a suggestion if another
    preprocessing or layout does much better (grader.diagnose)."""
    idx = diagnose.sample_indices(len(sample), SAMPLE_SIZE)
    imgs, lbls = sample.images[idx], sample.labels[idx]
    sample_images = (f"{sample.sha256}:sample{len(idx)}", imgs)

    def run_sample(pre: Preprocess, plan: adapt.InputPlan) -> float:
        _, outs = _run(child, prep, sample_images, pre, plan, deadline)
        try:
            got = outputs.interpret(outs, len(imgs), dataset.n_classes)
        except Rejected:
            return 0.0
        return float((got.predictions == lbls).mean())

    return diagnose.diagnose(
        run_sample, prep.preprocess, prep.plan, dataset.image_shape[2], len(imgs)
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
) -> GradeResult:
    """Score one model on a held-out dataset. Raises Rejected or RunFailed with the reason."""
    t = {"start": time.perf_counter()}
    prep = prepare(
        data,
        filename,
        image_shape=dataset.image_shape,
        n_classes=dataset.n_classes,
        preprocess_name=preprocess,
        mean=mean,
        std=std,
        layout=layout,
        limits=limits,
    )
    eff = efficiency.analyse(prep.model)
    t["checked"] = time.perf_counter()
    sandboxes = pool or default_pool()
    deadline = Deadline(limits.time_s)
    child = sandboxes.acquire()
    clean = False
    try:
        model_bytes = prep.model.SerializeToString()
        loaded, _ = child.request(
            {"op": "load", **run_limits_header(limits)},
            {"model": np.frombuffer(model_bytes, dtype=np.uint8)},
            time_s=deadline.left(),
            limit_s=limits.time_s,
        )
        t["loaded"] = time.perf_counter()
        reply, outs = _run(
            child,
            prep,
            (dataset.sha256, dataset.images),
            prep.preprocess,
            prep.plan,
            deadline,
            progress,
        )
        t["inferred"] = time.perf_counter()
        clean = True  # the child did its job; what follows is about the model's outputs
        got = outputs.interpret(outs, len(dataset), dataset.n_classes)
        diagnosis, sample_acc, cut = None, None, ""
        # The diagnosis explains a poor score; a model that scores well on the held-out set
        # needs none, so the sample runs (and their cost) are saved for the models that do.
        accuracy = float((got.predictions == dataset.labels).mean())
        if sample is not None and len(sample) and accuracy < diagnose.POOR:
            try:
                sample_acc, diagnosis = _diagnose(child, prep, sample, dataset, deadline)
            except RunFailed as e:  # the held-out score stands; only the explanation is lost
                clean = False
                cut = f"the diagnosis on the public sample was stopped ({e.code})"
        t["diagnosed"] = time.perf_counter()
    finally:
        sandboxes.release(child, clean=clean)
    scores = compute_scores(dataset.labels, got.predictions, got.probabilities, dataset.n_classes)
    scores["softmax_applied"] = got.softmax_applied
    if sample_acc is not None:
        scores["sample_accuracy"] = sample_acc
    t["scored"] = time.perf_counter()
    notes = list(prep.notes) + ([cut] if cut else [])
    notes.append(
        f"preprocessing: {preprocess_text(prep.preprocess)} (from {prep.preprocess.source})"
    )
    notes.append(
        f"output {got.output_name!r} read as {got.kind.replace('_', ' ')}"
        + (" (softmax applied for log-loss)" if got.softmax_applied else "")
    )
    timings = {
        "check_ms": (t["checked"] - t["start"]) * 1000,
        "session_ms": float(loaded.get("load_ms", 0.0)),
        "load_total_ms": (t["loaded"] - t["checked"]) * 1000,
        "inference_ms": float(reply.get("run_ms", 0.0)),
        "run_total_ms": (t["inferred"] - t["loaded"]) * 1000,
        "diagnosis_ms": (t["diagnosed"] - t["inferred"]) * 1000,
        "scoring_ms": (t["scored"] - t["diagnosed"]) * 1000,
        "total_ms": (t["scored"] - t["start"]) * 1000,
    }
    return GradeResult(
        accuracy=scores["accuracy"],
        scores=scores,
        n_images=len(dataset),
        dataset_sha256=dataset.sha256,
        preprocess=prep.preprocess,
        layout=prep.plan.layout,
        batch_mode=prep.plan.batch_mode,
        provider=str(loaded.get("provider", "")),
        limits_not_applied=[str(x) for x in loaded.get("limits_not_applied", [])],
        params=eff["params"],
        macs=eff["macs"],
        file_bytes=prep.file_bytes,
        ms_per_image=timings["inference_ms"] / max(len(dataset), 1),
        adaptation=notes,
        diagnosis=diagnosis,
        summary=eff["summary"],
        output_kind=got.kind,
        timings=timings,
        predictions=got.predictions,
        probabilities=got.probabilities,
    )


def preprocess_text(p: Preprocess) -> str:
    def fmt(v: tuple[float, ...]) -> str:
        return ", ".join(f"{x:g}" for x in v)

    return f"{p.name}: x = (pixel/255 - [{fmt(p.mean)}]) / [{fmt(p.std)}]"
