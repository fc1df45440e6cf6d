"""Export a trained reference model to ONNX with Podium's metadata (needs torch)."""

from __future__ import annotations

import io
from pathlib import Path

import onnx
import torch
from torch import nn

from reference.nets import Spec
from reference.onnxcheck import float_param_count

MAX_IR = 10  # onnxruntime 1.31 reads IR <= 13; onnx 1.23 writes 14 unless told otherwise


class WithSoftmax(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.inner(x), dim=1)


def _simplify(model: onnx.ModelProto, params: int) -> onnx.ModelProto:
    """Constant-fold the exported graph (folds TF-style Pads into Conv pads and the dynamic
    Shape/Squeeze/Concat chain before Flatten's Reshape, so ONNX shape inference sees every
    layer's width). The optimiser also merges byte-identical initializers (e.g. untrained zero
    biases), which would change the parameter count: then the unoptimised graph is kept."""
    from onnxscript import optimizer

    try:
        folded = optimizer.optimize(model)
    except Exception:  # noqa: BLE001 - the plain export is valid too
        return model
    return folded if float_param_count(folded) == params else model


def export_onnx(model: nn.Module, spec: Spec, path: Path, extra_meta: dict[str, str]) -> None:
    model = model.eval()
    wrapped: nn.Module = WithSoftmax(model) if spec.output == "probabilities" else model
    wrapped.eval()
    example = torch.zeros(spec.input_shape(2))
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    with torch.no_grad():
        prog = torch.onnx.export(
            wrapped,
            (example,),
            dynamo=True,
            input_names=["input"],
            output_names=["output"],
            dynamic_shapes=({0: batch},),
            optimize=False,  # the optimiser dedups equal initializers (e.g. zero biases)
            verbose=False,
        )
    assert prog is not None
    m = _simplify(prog.model_proto, spec.params)
    if m.ir_version > MAX_IR:
        m.ir_version = MAX_IR
    # all weights inline (small models), no external data
    meta = {
        "podium.preprocess": spec.preprocess,
        "podium.layout": spec.layout,
        "podium.output": spec.output,
        "podium.dataset": spec.dataset,
        "podium.name": spec.name,
        **extra_meta,
    }
    del m.metadata_props[:]
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    m.producer_name = "podium-reference"
    onnx.checker.check_model(m)
    n = float_param_count(m)
    if n != spec.params:
        raise RuntimeError(
            f"{spec.name}: ONNX has {n} float parameters, Keras counts {spec.params}"
        )
    buf = io.BytesIO()
    onnx.save_model(m, buf)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
