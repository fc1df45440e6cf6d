"""The efficiency columns are per image and cannot be forged: every float constant is a parameter,
MACs come from shapes inferred from the input, and the reference baselines keep their figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import grader
from grader.analysis_child import Analyser
from grader.datasets import Dataset
from grader.efficiency import count_params
from grader.sandbox import SandboxPool
from testsupport.onnx_build import init, make_model, raw, vi

REPO = Path(__file__).resolve().parents[2]
MANIFEST = json.loads((REPO / "reference" / "manifest.json").read_text())["models"]
IMAGES = {"mnist": [28, 28, 1], "cifar10": [32, 32, 3]}
MLP = REPO / "reference" / "models" / "mnist_mlp_500x2.onnx"  # 648,010 params, 647,000 MACs


def figures(data: bytes, filename: str = "m.onnx", image_shape: list[int] | None = None) -> Any:
    """params and MACs as the analysis child computes them for the grader (in this process)."""
    analyser = Analyser()
    req = {
        "args": {
            "filename": filename,
            "image_shape": image_shape or [28, 28, 1],
            "n_classes": 10,
        },
        "limits": {},
    }
    reply, _ = analyser.prepare(req, data)
    eff = analyser.analyse()["efficiency"]
    return reply["prepared"]["params"], eff["params"], eff["macs"]


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["name"] for e in MANIFEST])
def test_every_reference_baseline_keeps_its_params_and_macs(entry: dict[str, Any]) -> None:
    data = (REPO / "reference" / entry["file"]).read_bytes()
    checked, params, macs = figures(data, entry["file"], IMAGES[entry["dataset"]])
    assert (checked, params, macs) == (entry["params"], entry["params"], entry["macs"])


def _with_batch(path: Path, batch: int) -> bytes:
    model = onnx.load(str(path))
    dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    dim.Clear()
    dim.dim_value = batch
    for out in model.graph.output:
        odim = out.type.tensor_type.shape.dim[0]
        odim.Clear()
        odim.dim_value = batch
    return raw(model)


def test_macs_are_per_image_whatever_fixed_batch_the_export_has(
    mnist_small: Dataset, pool: SandboxPool
) -> None:
    lenet = REPO / "reference" / "models" / "mnist_lenet_small.onnx"
    one = grader.grade(_with_batch(lenet, 1), "b1.onnx", mnist_small, pool=pool)
    ten = grader.grade(_with_batch(lenet, 10), "b10.onnx", mnist_small, pool=pool)
    assert ten.batch_mode == "fixed"
    assert one.macs == ten.macs == 123_930
    assert sum(row["macs"] for row in ten.summary) == 123_930


def _weights_as_constants(model: onnx.ModelProto) -> onnx.ModelProto:
    """The same network with every initializer moved into a Constant node."""
    consts = [
        helper.make_node("Constant", [], [t.name], value=t, name=f"const_{t.name}")
        for t in model.graph.initializer
    ]
    del model.graph.initializer[:]
    nodes = consts + list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


def test_weights_moved_into_constant_nodes_are_still_counted() -> None:
    forged = raw(_weights_as_constants(onnx.load(str(MLP))))
    assert figures(forged) == (648_010, 648_010, 647_000)


def test_a_one_element_initializer_beside_constant_weights_is_not_the_count() -> None:
    model = _weights_as_constants(onnx.load(str(MLP)))
    last = model.graph.node[-1]
    last.output[0] = "scores"
    model.graph.node.append(helper.make_node("Mul", ["scores", "dummy"], ["output"]))
    model.graph.initializer.append(init("dummy", [1.0]))
    # The one-element "weight" is a setting (left out), the hidden weights are counted.
    assert figures(raw(model)) == (648_010, 648_010, 647_000)


def test_declared_one_by_one_output_shapes_do_not_shrink_the_macs() -> None:
    model = onnx.load(str(MLP))
    for node in model.graph.node:
        if node.op_type == "Gemm" and node.output[0] != "output":
            model.graph.value_info.append(vi(node.output[0], [1, 1]))
    out = model.graph.output[0].type.tensor_type.shape
    out.ClearField("dim")
    out.dim.add().dim_value = 1
    out.dim.add().dim_value = 1
    *_, macs = figures(raw(model))
    assert macs == 647_000


def test_constants_in_functions_subgraphs_and_quantized_weights_are_params() -> None:
    w = np.ones((784, 10), np.float32)
    fn = helper.make_function(
        "local",
        "dense",
        ["x"],
        ["y"],
        [
            helper.make_node("Constant", [], ["w"], value=numpy_helper.from_array(w, "w")),
            helper.make_node("MatMul", ["x", "w"], ["y"]),
        ],
        [helper.make_opsetid("", 17)],
    )
    then_branch = helper.make_graph(
        [helper.make_node("Add", ["h", "bias"], ["t"])],
        "then",
        [],
        [vi("t", ["N", 10])],
        [init("bias", np.zeros(10))],
    )
    q = numpy_helper.from_array(np.ones(10, np.int8), "q")
    nodes = [
        helper.make_node("Flatten", ["x"], ["flat"]),
        helper.make_node("dense", ["flat"], ["h"], domain="local"),
        helper.make_node("If", ["cond"], ["b"], then_branch=then_branch, else_branch=then_branch),
        helper.make_node("DequantizeLinear", ["q", "scale"], ["dq"]),
        helper.make_node("Add", ["b", "dq"], ["y"]),
    ]
    cond = numpy_helper.from_array(np.array(True), "cond")
    model = make_model(
        nodes,
        [vi("x", ["N", 1, 28, 28])],
        [vi("y", ["N", 10])],
        [cond, q, init("scale", 0.5)],
        extra_opsets=[("local", 1)],
        functions=[fn],
    )
    # 7,840 in the function, 10 + 10 in the If's two branches, 10 int8 weights (their
    # one-element scale is a setting, not counted)
    assert count_params(model) == 7840 + 20 + 10
    assert figures(raw(model))[0] == 7870


def test_an_operator_domain_imported_but_unused_is_accepted_and_said(
    mnist_small: Dataset, pool: SandboxPool
) -> None:
    model = onnx.load(str(MLP))
    model.opset_import.append(helper.make_opsetid("pkg.onnxscript.torch_lib.common", 1))
    info = grader.check_upload(raw(model), "torch2.onnx")
    assert any(
        "'pkg.onnxscript.torch_lib.common' imported but used by no operator" in n
        for n in info["adaptation"]
    )
    assert grader.grade(raw(model), "torch2.onnx", mnist_small, pool=pool).accuracy > 0.95


def test_an_operator_domain_imported_and_used_is_still_refused() -> None:
    model = onnx.load(str(MLP))
    model.opset_import.append(helper.make_opsetid("pkg.onnxscript.torch_lib.common", 1))
    model.graph.node[1].domain = "pkg.onnxscript.torch_lib.common"
    with pytest.raises(grader.Rejected) as info:
        grader.check_upload(raw(model), "torch2.onnx")
    assert info.value.code == "custom_domain"
    assert "pkg.onnxscript.torch_lib.common:Relu" in info.value.message
