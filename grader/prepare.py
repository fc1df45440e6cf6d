"""Preparing an upload: size and format, the static checks, preprocessing and input adaptation.

No model runs here (no onnxruntime). It runs in the analysis child (grader.analysis_child), under
its memory limit and the parent's deadline: it is where an untrusted file is parsed.
"""

from __future__ import annotations

from collections.abc import Sequence

import onnx

from grader import adapt, efficiency, fingerprint, preprocess, validate, wirescan
from grader.errors import Rejected
from grader.prepared import Prepared
from grader.types import DEFAULT_LIMITS, Limits

NPZ_EXPANSION = 1.5  # a NumPy network may hold this much more than the upload limit, decompressed


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
        cap = int((limits.max_file_mb << 20) * NPZ_EXPANSION)
        return npz_to_onnx(data, max_total_bytes=cap), "npz"
    wirescan.check_counts(data)  # before parsing builds every message
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
) -> tuple[Prepared, onnx.ModelProto]:
    """The checked upload, and its parsed model (kept in the analysis child for the analysis)."""
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
    model_bytes = data if fmt == "onnx" and not checked.modified else model.SerializeToString()
    prep = Prepared(
        model_bytes=model_bytes,
        input_name=checked.input_name,
        outputs=checked.outputs,
        plan=plan,
        preprocess=pre,
        metadata=meta,
        file_bytes=len(data),
        fmt=fmt,
        notes=notes,
        params=efficiency.count_params(model),
        weights_hash=fingerprint.weights_hash_or_empty(model),
    )
    return prep, model


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
