"""What the analysis child found about an upload, as plain data that crosses the pipe as JSON.

The parent (web process, Celery worker) never parses an untrusted file: it gets this back from
grader.analysis_child, with the model's bytes ready for the inference child.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from grader.adapt import InputPlan
from grader.types import Preprocess

Output = tuple[str, int, list[int | None] | None]  # name, element type (0: not a tensor), dims


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
    weights_hash: str = ""  # grader.fingerprint: equal for the same weights, renamed or reordered

    def to_wire(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "model_bytes"}
        out["plan"] = asdict(self.plan)
        out["preprocess"] = self.preprocess.to_dict()
        return out

    @classmethod
    def from_wire(cls, d: dict[str, Any], model_bytes: bytes) -> Prepared:
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
            weights_hash=str(d.get("weights_hash", "")),
        )
