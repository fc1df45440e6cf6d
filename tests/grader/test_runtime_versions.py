"""The caller never imports onnxruntime; the version limits agree with the installed runtime."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import onnxruntime as ort
import pytest
from onnx import helper

from grader import validate
from testsupport.onnx_build import make_model, vi

REPO = Path(__file__).resolve().parents[2]


def test_check_upload_never_imports_onnxruntime_in_the_caller() -> None:
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        from testsupport.onnx_build import linear_model
        import grader
        model = linear_model(np.zeros((784, 10), np.float32), np.zeros(10, np.float32), ["N", 784],
                             layout="flat_hwc").SerializeToString()
        info = grader.check_upload(model, "m.onnx")
        assert info["layout"] == "flat_hwc", info
        import grader.engine, grader.sandbox, grader.npnet, grader.cli
        print(sorted(m for m in sys.modules if m.startswith("onnxruntime")))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def relu_model(ir: int, opset: int) -> bytes:
    m = make_model(
        [helper.make_node("Relu", ["x"], ["y"])], [vi("x", [2])], [vi("y", [2])], opset=opset, ir=ir
    )
    return m.SerializeToString()


def session(data: bytes) -> ort.InferenceSession:
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def test_max_ir_and_opset_load_in_the_installed_runtime() -> None:
    session(relu_model(validate.MAX_IR_VERSION, validate.MAX_OPSET))


def test_one_past_max_ir_fails_in_the_installed_runtime() -> None:
    with pytest.raises(Exception, match="(?i)ir.?version|Unsupported model"):
        session(relu_model(validate.MAX_IR_VERSION + 1, validate.MAX_OPSET))


def test_one_past_max_opset_fails_in_the_installed_runtime() -> None:
    with pytest.raises(Exception, match="(?i)opset"):
        session(relu_model(validate.MAX_IR_VERSION, validate.MAX_OPSET + 1))


def test_min_ir_loads_in_the_installed_runtime() -> None:
    session(relu_model(validate.MIN_IR_VERSION, 8))
