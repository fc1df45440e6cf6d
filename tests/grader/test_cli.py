"""`python -m grader check`: what students run before uploading."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from testsupport.onnx_build import Weights, linear_model, raw

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grader", "check", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_scores_a_model_and_prints_json(tmp_path: Path, trained: Weights) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(raw(linear_model(*trained, ["N", 1, 28, 28])))
    out = run_cli(str(path), "--json", "--cpu")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    for key in (
        "accuracy",
        "n_images",
        "preprocess",
        "layout",
        "provider",
        "params",
        "dataset_sha256",
    ):
        assert key in result
    assert result["ok"] is True and result["accuracy"] > 0.85 and result["n_images"] == 10_000
    assert result["layout"] == "nchw" and result["provider"] == "CPUExecutionProvider"
    assert result["params"] == 7850 and len(result["dataset_sha256"]) == 64
    assert result["preprocess"]["name"] == "unit"


def test_check_prints_a_human_report(tmp_path: Path, trained: Weights) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(raw(linear_model(*trained, ["N", 784], layout="flat_hwc")))
    out = run_cli(str(path), "--preprocess", "unit", "--cpu")
    assert out.returncode == 0, out.stderr
    assert "Accuracy: 0.9" in out.stdout and "Total params: 7,850" in out.stdout


def test_check_rejects_a_bad_file_with_exit_2_and_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"this is not a model")
    out = run_cli(str(path))
    assert out.returncode == 2
    assert "rejected [not_onnx]" in out.stderr and "not an ONNX file" in out.stderr
    out = run_cli(str(path), "--json")
    assert out.returncode == 2
    assert json.loads(out.stdout) == {
        "ok": False,
        "kind": "rejected",
        "code": "not_onnx",
        "message": "this is not an ONNX file (it cannot be parsed)",
    }


def test_check_missing_file_exits_2(tmp_path: Path) -> None:
    out = run_cli(str(tmp_path / "missing.onnx"))
    assert out.returncode == 2 and "missing.onnx" in out.stderr
