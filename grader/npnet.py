"""NumPy networks: weights plus a JSON layer spec in an `.npz`, converted to ONNX (no code runs).

The `architecture` entry is a 0-d string array holding JSON:
  {"format": "podium.npnet", "version": 2, "input_shape": [784] | [28, 28, 1] | ...,
   "input_layout": "hwc" | "chw", "preprocess": "unit" | {"mean": [...], "std": [...]},
   "layers": [{"type": "dense", "name": "fc1"}, {"type": "relu"}, ...]}
`input_layout` (default hwc): images enter as (H, W, C), or (C, H, W) with chw; a flat input holds
its pixels in that order. Version 1 is the same without the options marked (2) below; version 2
refuses keys it does not know. `save()` writes the file from a plain list of layers.
Weights, named "<layer name>.<array>":
  dense      W (in, out), y = x @ W + b; or (out, in) with "weight_layout": "out_in" (2), as
             PyTorch and column-vector code store it; b (out,) or (out, 1) (2); "bias": false (2)
  conv2d     W (kh, kw, in_c, out_c), or (out_c, in_c, kh, kw) with "weight_layout": "oihw" (2);
             b and "bias" as dense; "stride" (int or [sh, sw]); "padding" same|valid, or (2) an
             int or [rows, cols] of zeros on each side, as PyTorch's padding=
  batchnorm  gamma, beta, mean, var (channels,); "epsilon" (default 0.001, as Keras)
  normalize  mean, std (broadcast over the last axis)     y = (x - mean) / std
Without weights: relu, sigmoid, tanh, leaky_relu ("alpha", default 0.01), softmax; dropout (the
identity, or (2) "mode": "scale" multiplies by 1 - "rate", for dropout that did not rescale
while training); flatten ("order" (2): hwc or chw, default the input_layout); maxpool2d and
avgpool2d ("pool", "stride" default = pool, "padding" valid|same, or (2) explicit as conv2d's).
`padding: same` pads as Keras/TensorFlow do: total = max((ceil(in/s) - 1) * s + k - in, 0), the
smaller half before, so stride 2 on 28 pixels with k=5 pads (1, 2).
The spec's preprocess and input_layout become the model's `podium.*` metadata, read as an ONNX
file's own (an upload's declaration wins).
"""

from __future__ import annotations

from grader.npnet_convert import IR_VERSION, OPSET, convert, npz_to_onnx
from grader.npnet_save import save
from grader.npnet_spec import json_depth, parse_spec, same_pads
from grader.prepared import Variant

__all__ = [
    "IR_VERSION",
    "OPSET",
    "Variant",
    "convert",
    "json_depth",
    "npz_to_onnx",
    "parse_spec",
    "same_pads",
    "save",
]
