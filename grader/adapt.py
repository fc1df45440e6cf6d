"""Adapting the dataset's images to the input a model declares, and saying what was done.

Images arrive as uint8 (N, H, W, C). Layouts a model may want:
  nchw      (N, C, H, W)            PyTorch
  nhwc      (N, H, W, C)            Keras / TensorFlow
  nhw       (N, H, W)               single-channel images without a channel axis
  flat_hwc  (N, H*W*C), pixels in H, W, C order: NumPy's x.reshape(N, -1) of channel-last images,
            Keras Flatten (the default for flat inputs)
  flat_chw  (N, C*H*W), in C, H, W order: torch.flatten of channel-first images
Batch: a symbolic first dimension runs in batches; a fixed one (1, 10, ...) runs in chunks of that
size with the last chunk padded; no batch dimension at all runs one image at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.errors import Rejected

LAYOUTS = ("nchw", "nhwc", "nhw", "flat_hwc", "flat_chw")
DEFAULT_BATCH = 256  # batches of 32-1000 run fastest; 256 keeps a CIFAR CNN's peak near 0.3 GB


def layout_checked(layout: str | None) -> str | None:
    """The one reading of a declared layout (upload form, API, `podium submit`, `grader check`,
    model metadata): one of LAYOUTS, or None when blank."""
    text = (layout or "").strip().lower()
    if not text or text == "auto":
        return None
    if text not in LAYOUTS:
        raise Rejected("bad_layout", f"unknown layout {layout!r}; one of {', '.join(LAYOUTS)}")
    return text


@dataclass(frozen=True)
class InputPlan:
    layout: str
    batch_mode: str  # "dynamic", "fixed" or "none"
    batch_size: int
    dtype: str
    notes: tuple[str, ...]
    fits: tuple[str, ...] = ()  # every layout the declared input accepts (for the diagnosis)

    def to_wire(self) -> dict[str, object]:
        return {
            "layout": self.layout,
            "batch_mode": self.batch_mode,
            "batch_size": self.batch_size,
            "dtype": self.dtype,
        }


def _fits(dims: list[int | None], want: tuple[int, ...]) -> bool:
    return len(dims) == len(want) and all(
        d is None or d == w for d, w in zip(dims, want, strict=True)
    )


def _shape_text(dims: list[int | None]) -> str:
    return "(" + ", ".join("N" if d is None else str(d) for d in dims) + ")"


def expected_shapes(image_shape: tuple[int, int, int]) -> str:
    h, w, c = image_shape
    shapes = [f"(N,{c},{h},{w})", f"(N,{h},{w},{c})"]
    if c == 1:
        shapes.append(f"(N,{h},{w})")
    shapes.append(f"(N,{h * w * c})")
    return ", ".join(shapes[:-1]) + " or " + shapes[-1]


def _candidates(dims: list[int | None], image_shape: tuple[int, int, int]) -> list[tuple[str, str]]:
    """Every (layout, batch_mode) reading of the declared dims; batch_mode is batched or none."""
    h, w, c = image_shape
    flat = h * w * c
    spatial = {
        "nchw": (c, h, w),
        "nhwc": (h, w, c),
        "nhw": (h, w),
        "flat_hwc": (flat,),
        "flat_chw": (flat,),
    }
    candidates: list[tuple[str, str]] = []
    for layout, inner in spatial.items():
        if layout == "nhw" and c != 1:
            continue
        if len(dims) == len(inner) + 1 and _fits(dims[1:], inner):
            candidates.append((layout, "batched"))
        if _fits(dims, inner) and all(d is not None for d in dims):
            candidates.append((layout, "none"))
    return candidates


KNOWN_IMAGES = ((28, 28, 1), (32, 32, 3))  # what a flat input of 784 or 3072 values is taken for


def _model_image(dims: list[int | None]) -> str | None:
    """The images a (batched) input was made for, as H×W×C, when its shape says so."""
    inner = dims[1:]
    if None in inner or not inner:
        return None
    if len(inner) == 3:
        a, b, c = (int(d or 0) for d in inner)
        if a in (1, 3) and c not in (1, 3):
            return f"{b}×{c}×{a}"
        if c in (1, 3):
            return f"{a}×{b}×{c}"
    if len(inner) == 2:
        return f"{inner[0]}×{inner[1]}×1"
    if len(inner) == 1:
        for h, w, c in KNOWN_IMAGES:
            if h * w * c == inner[0]:
                return f"{h}×{w}×{c}"
    return None


def _declared(
    candidates: list[tuple[str, str]],
    dims: list[int | None],
    image_shape: tuple[int, int, int],
    declared_layout: str | None,
    layout_source: str,
) -> list[tuple[str, str]]:
    """The candidates the declared layout leaves; refuses when none is left. A model made for
    other images is said first: no layout (nor a layout its metadata declares) would fit it."""
    h, w, c = image_shape
    if not candidates:
        made_for = _model_image(dims)
        head = (
            f"the model expects {made_for} images (input {_shape_text(dims)})"
            if made_for
            else f"the model's input is {_shape_text(dims)}"
        )
        raise Rejected(
            "bad_input",
            f"{head}; this competition's images are {h}×{w}×{c}: expected "
            f"{expected_shapes(image_shape)}",
        )
    if declared_layout:
        chosen = [cnd for cnd in candidates if cnd[0] == declared_layout]
        if not chosen:
            where = "" if layout_source == "upload" else f" (in the {layout_source})"
            raise Rejected(
                "bad_layout",
                f"layout {declared_layout!r} was declared{where}, but the model's input is "
                f"{_shape_text(dims)}",
            )
        candidates = chosen
    return candidates


def _batching(dims: list[int | None], layout: str, mode: str) -> tuple[str, int, str]:
    """The batch mode, batch size and the note that says so."""
    if mode == "none":
        return "none", 1, f"input {_shape_text(dims)} has no batch dimension: one image per run"
    if dims[0] is None:
        return (
            "dynamic",
            DEFAULT_BATCH,
            f"input {_shape_text(dims)}: {layout}, batches of {DEFAULT_BATCH}",
        )
    batch = int(dims[0])
    note = f"input {_shape_text(dims)} has a fixed batch of {batch}: chunks of {batch}" + (
        ", last chunk padded" if batch > 1 else ""
    )
    return "fixed", batch, note


def plan_input(
    dims: list[int | None],
    dtype: str,
    image_shape: tuple[int, int, int],
    declared_layout: str | None = None,
    layout_source: str = "upload",
) -> InputPlan:
    c = image_shape[2]
    notes: list[str] = []
    declared_layout = layout_checked(declared_layout)
    every = _candidates(dims, image_shape)
    # Prefer a batched reading (N, ...) over a no-batch one, and the flat order NumPy and Keras use.
    # sorted() copies: `every` keeps the declaration order for `fits`.
    candidates = sorted(
        _declared(every, dims, image_shape, declared_layout, layout_source),
        key=lambda cnd: (cnd[1] != "batched", LAYOUTS.index(cnd[0])),
    )
    layout, mode = candidates[0]
    ambiguous = {cnd[0] for cnd in candidates if cnd[1] == mode} - {layout}
    if ambiguous and not declared_layout and layout in ("nchw", "nhwc"):
        notes.append(
            f"input {_shape_text(dims)} fits {layout} and {', '.join(sorted(ambiguous))}; "
            f"assumed {layout} (declare the layout to change this)"
        )
    if layout == "flat_hwc" and c == 3 and not declared_layout:
        notes.append("flat input: pixels in height, width, channel order (declare flat_chw if not)")
    batch_mode, batch, batch_note = _batching(dims, layout, mode)
    notes.append(batch_note)
    if dtype != "float32":
        notes.append(
            "input is uint8: raw pixels fed, preprocessing not applied"
            if dtype == "uint8"
            else f"input is {dtype}: images converted to {dtype}"
        )
    fits = tuple(cnd[0] for cnd in every if cnd[1] == mode)
    return InputPlan(layout, batch_mode, batch, dtype, tuple(notes), fits)
