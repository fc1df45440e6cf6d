"""Keras models as students save them (`model.save`: `.keras` or `.h5`), converted to ONNX
without TensorFlow or Keras: the config is read as JSON and the weights with h5py, then the
graph is built from ONNX operators with Keras' own semantics (grader.keras.layers, .spatial).
Nothing in the file is executed. Called from grader.prepare._load, in the analysis child.

- `reader`: the file's layout by its content (zip or HDF5), sizes bounded before reading;
- `graph`: the config as ordered layer calls; Lambda, custom classes, several inputs or
  outputs are refused there;
- `net`, `layers`, `shapes`, `spatial`: the ONNX graph, one builder per Keras layer class.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from grader.errors import Rejected
from grader.keras import graph, layers, reader, shapes, spatial
from grader.keras.net import Call, Net
from grader.npnet import IR_VERSION, OPSET

LAYERS = {**layers.LAYERS, **shapes.LAYERS, **spatial.LAYERS}
KNOWN = set(LAYERS)
RAW_SCALE = 1.5 / 255  # a first Rescaling at most this: the model takes 0..255 pixels
SKIPPED_AT_START = set(layers.IDENTITY)


def _layout(shape: list[int | None], calls: list[Call]) -> str | None:
    rank = len(shape) - 1
    if rank == 3:  # images: as the first layer that says how it reads them
        for c in calls:
            if "data_format" in c.config and c.config["data_format"]:
                return "nchw" if c.config["data_format"] == "channels_first" else "nhwc"
        return "nhwc"
    return {1: "flat_hwc", 2: "nhw"}.get(rank)


def _expects_raw(calls: list[Call], input_id: str) -> str | None:
    """Why the model takes raw 0..255 pixels, when its first real layer scales them itself."""
    current = input_id
    for c in calls:
        if current not in c.inputs:
            continue
        if c.cls in SKIPPED_AT_START:
            current = c.output
            continue
        if c.cls == "Rescaling":
            scale = c.config.get("scale")
            if isinstance(scale, int | float) and 0 < scale <= RAW_SCALE:
                return f"its first layer is Rescaling(scale={scale:.6g})"
        if c.cls == "Normalization":
            mean = c.config.get("mean")
            values = c.weights[0] if mean is None and c.weights else mean
            try:
                top = max(float(v) for v in np.ravel(np.asarray(values, dtype=np.float64)))
            except (TypeError, ValueError):
                return None
            if top > 2.0:
                return f"its first layer is Normalization with means up to {top:.4g}"
        return None
    return None


def keras_to_onnx(data: bytes, *, max_weight_bytes: int) -> tuple[onnx.ModelProto, list[str]]:
    """The ONNX model and the notes for the student; raises Rejected with the reason."""
    kf = reader.read(data, max_weight_bytes=max_weight_bytes)
    weights = graph.Weights(kf.weights, by_class=kf.layout == "zip")
    try:
        calls, batch_shape, input_id, output_id = graph.parse(kf.config, weights, KNOWN)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError) as e:
        raise Rejected(
            "keras_invalid", f"the model config is malformed ({type(e).__name__}: {e})"[:400]
        ) from e
    net = Net()
    input_name = net.fresh(input_id.split(":", 1)[0])
    net.tensors[input_id] = input_name
    net.shapes[input_name] = (
        [None, *batch_shape[1:]] if batch_shape[0] is None else list(batch_shape)
    )
    for call in calls:
        try:
            LAYERS[call.cls](net, call, kf.major)
        except (ValueError, TypeError, IndexError, KeyError, AttributeError) as e:
            raise Rejected(
                "keras_invalid",
                f"{call.where()}: its config or weights do not fit ({type(e).__name__}: {e})"[:400],
            ) from e
    out_name = net.tensors[output_id]
    net.prune([out_name])
    dims: list[int | str] = [
        d if d is not None else "N" if i == 0 else f"d{i}" for i, d in enumerate(batch_shape)
    ]
    out_dims = [
        d if d is not None else "N" if i == 0 else f"o{i}"
        for i, d in enumerate(net.shapes[out_name])
    ]
    x = helper.make_tensor_value_info(input_name, TensorProto.FLOAT, dims)
    y = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, out_dims)
    if out_name == input_name:
        raise Rejected("keras_unsupported", "the model computes nothing: its output is its input")
    inner = kf.config.get("config")
    name = str(inner.get("name") or "keras")[:100] if isinstance(inner, dict) else "keras"
    g = helper.make_graph(net.nodes, name, [x], [y], net.inits)
    model = helper.make_model(
        g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="podium-keras"
    )
    model.ir_version = IR_VERSION
    meta: dict[str, str] = {}
    layout = _layout(batch_shape, calls)
    if layout:
        meta["podium.layout"] = layout
    version = f"Keras {kf.version}" if kf.version else "Keras"
    kind = ".keras zip" if kf.layout == "zip" else "HDF5"
    notes = [
        f"{version} model ({kind}, {len(calls)} layers) converted to ONNX ({len(net.nodes)} operators)"
    ]
    why = _expects_raw(calls, input_id)
    if why:
        meta["podium.preprocess"] = "raw"
        notes.append(
            f"the model scales its input itself ({why}): it is fed raw 0..255 pixels unless you declare otherwise"
        )
    helper.set_model_props(model, meta)
    return model, notes
