"""Preparing an upload: size and format, the static checks, preprocessing and input adaptation.

No model runs here (no onnxruntime). It runs in the analysis child (grader.analysis_child), under
its memory limit and the parent's deadline: it is where an untrusted file is parsed.
"""

from __future__ import annotations

from collections.abc import Sequence

import onnx

from grader import adapt, efficiency, fingerprint, preprocess, validate, wirescan
from grader.errors import Rejected
from grader.npzsafe import refuse_pickle
from grader.prepared import Prepared, Variant
from grader.types import DEFAULT_LIMITS, Limits

NPZ_EXPANSION = 1.5  # a NumPy network may hold this much more than the upload limit, decompressed
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")  # the layout inside is read from the content


def _load(
    data: bytes, filename: str, limits: Limits
) -> tuple[onnx.ModelProto, str, list[str], list[Variant]]:
    """The upload as an ONNX model, its format, notes on the conversion, and alternative models
    the diagnosis may try (the other flatten order of an .npz network)."""
    if len(data) > limits.max_file_mb << 20:
        raise Rejected(
            "too_large",
            f"the file is {len(data) / 2**20:.0f} MB; the limit is {limits.max_file_mb} MB",
        )
    lower = filename.lower()
    if lower.endswith((".npz", *KERAS_SUFFIXES)) and not data:
        raise Rejected("empty_file", "the file is empty")
    cap = int((limits.max_file_mb << 20) * NPZ_EXPANSION)
    if lower.endswith(".npz"):
        from grader.npnet import convert

        model, variants = convert(data, max_total_bytes=cap)
        note = f"NumPy network converted to ONNX ({len(model.graph.node)} operators)"
        return model, "npz", [note], variants
    if lower.endswith(KERAS_SUFFIXES):
        from grader.keras import keras_to_onnx

        model, notes = keras_to_onnx(data, max_weight_bytes=cap)
        return model, "keras", notes, []
    refuse_pickle(data)  # a pickle or a bare .npy named otherwise: say how to save an .npz
    wirescan.check_counts(data)  # before parsing builds every message
    return validate.parse_model(data), "onnx", [], []


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
    preprocess.declaration_checked(preprocess_name, mean, std)  # before the file is even read
    adapt.layout_checked(layout)
    model, fmt, load_notes, variants = _load(data, filename, limits)
    checked = validate.check_model(model)
    meta = {p.key: p.value for p in model.metadata_props}
    # The input first: a model made for other images is told so, not that a preset or a layout
    # from its metadata does not fit.
    plan = adapt.plan_input(
        checked.input_dims,
        checked.input_dtype,
        image_shape,
        layout or meta.get("podium.layout"),
        "upload" if layout else "model metadata (podium.layout)",
    )
    pre = preprocess.resolve_preprocess(
        name=preprocess_name, mean=mean, std=std, metadata=meta, channels=image_shape[2]
    )
    _check_declared_outputs(checked, n_classes)
    notes = [*load_notes, *checked.notes, *plan.notes]
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
        variants=variants,
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
