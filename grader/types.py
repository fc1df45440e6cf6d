"""Plain data passed between the engine's stages and returned to callers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Limits:
    """Sandbox limits for one submission."""

    time_s: float = 120.0  # wall time for the whole inference over the dataset
    memory_mb: int = 3072  # address space the child may add after loading onnxruntime
    threads: int = 2  # intra-op threads for onnxruntime
    max_file_mb: int = 100  # uploads above this are refused before being parsed
    analysis_memory_mb: int = 1024  # what parsing and checking one upload may add (analysis child)
    check_time_s: float = 30.0  # wall time for the upload check alone (the web's, before grading)
    use_cuda: bool | None = None  # None: CUDA when a device is present


@dataclass(frozen=True)
class Preprocess:
    """x = (pixel / 255 - mean) / std, per channel when mean/std have one value per channel."""

    name: str  # preset name, or "custom"
    mean: tuple[float, ...]
    std: tuple[float, ...]
    source: str = "default"  # "upload", "model metadata" or "default"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GradeResult:
    """Everything the engine learned about one model on one dataset."""

    accuracy: float
    scores: dict[str, Any]  # accuracy, per_class_accuracy, confusion, macro_f1, log_loss, ...
    n_images: int
    dataset_sha256: str
    preprocess: Preprocess
    layout: str
    batch_mode: str
    provider: str
    params: int
    macs: int | None  # None: the analysis could not count them (see adaptation)
    file_bytes: int
    ms_per_image: float
    adaptation: list[str] = field(default_factory=list)
    diagnosis: str | None = None
    suggested_preprocess: str | None = None  # the diagnosis' preset, for a one-click resubmission
    weights_hash: str = ""  # grader.fingerprint: the same weights renamed or reordered match
    summary: list[dict[str, Any]] = field(default_factory=list)
    output_kind: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    # Sandbox limits this machine could not apply (e.g. the memory limit on macOS or Windows).
    limits_not_applied: list[str] = field(default_factory=list)
    # Per-image results, kept out of to_dict(): callers score splits with grader.metrics.
    predictions: np.ndarray | None = None
    probabilities: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("predictions", "probabilities")}
        out["preprocess"] = self.preprocess.to_dict()
        return out


DEFAULT_LIMITS = Limits()
