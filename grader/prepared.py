"""What the analysis child found about an upload, as plain data that crosses the pipe as JSON.

The parent (web process, Celery worker) never parses an untrusted file: it gets this back from
grader.analysis_child, with the model's bytes ready for the inference child.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from grader.adapt import InputPlan
from grader.types import Preprocess

Output = tuple[str, int, list[int | None] | None]  # name, element type (0: not a tensor), dims


@dataclass(frozen=True)
class Variant:
    """Another reading of the same upload that only the diagnosis tries, when the declared one
    scores poorly: e.g. a NumPy network's other flatten order (grader.npnet.convert)."""

    label: str  # what differs, as the diagnosis says it: "flatten order chw"
    advice: str  # the declaration that selects it
    model_bytes: bytes


@dataclass
class Prepared:
    """A model that passed every static check, ready to run."""

    model_bytes: bytes  # as uploaded, or re-serialized (converted from .npz, IR lowered)
    input_name: str
    outputs: list[Output]
    plan: InputPlan
    preprocess: Preprocess
    metadata: dict[str, str]
    file_bytes: int
    fmt: str
    notes: list[str]
    params: int
    variants: list[Variant] = field(default_factory=list)  # their bytes cross beside the model's
    weights_hash: str = ""  # grader.fingerprint: equal for the same weights, renamed or reordered

    def to_wire(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("model_bytes", "variants")}
        out["variants"] = [{"label": v.label, "advice": v.advice} for v in self.variants]
        out["plan"] = asdict(self.plan)
        out["preprocess"] = self.preprocess.to_dict()
        return out

    @classmethod
    def from_wire(
        cls, d: dict[str, Any], model_bytes: bytes, variant_bytes: list[bytes] | None = None
    ) -> Prepared:
        plan = dict(d["plan"])
        plan["notes"], plan["fits"] = tuple(plan["notes"]), tuple(plan["fits"])
        pre = dict(d["preprocess"])
        pre["mean"], pre["std"] = tuple(pre["mean"]), tuple(pre["std"])
        return cls(
            model_bytes=model_bytes,
            input_name=str(d["input_name"]),
            outputs=[(str(n), int(e), dims) for n, e, dims in d["outputs"]],
            plan=InputPlan(**plan),
            preprocess=Preprocess(**pre),
            metadata={str(k): str(v) for k, v in d["metadata"].items()},
            file_bytes=int(d["file_bytes"]),
            fmt=str(d["fmt"]),
            notes=[str(n) for n in d["notes"]],
            params=int(d["params"]),
            variants=[
                Variant(str(v["label"]), str(v["advice"]), b)
                for v, b in zip(d.get("variants", []), variant_bytes or [], strict=False)
            ],
            weights_hash=str(d.get("weights_hash", "")),
        )
