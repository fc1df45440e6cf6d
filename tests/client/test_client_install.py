"""The student client installs on its own (no Django, no server) and checks a bundled model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_client_installs_alone_in_a_fresh_venv_and_checks_a_model(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    # A copy of the distribution's sources, so that the build leaves nothing in the repository.
    src = tmp_path / "src"
    junk = shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    for rel in ("client", "grader", "podium_client", "data"):
        shutil.copytree(ROOT / rel, src / rel, ignore=junk)
    install = subprocess.run(
        [str(bin_dir / "pip"), "install", "-q", "--disable-pip-version-check", str(src / "client")],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    python = str(bin_dir / "python")
    elsewhere = tmp_path / "elsewhere"  # not the repository: only what was installed is found
    elsewhere.mkdir()
    no_server = subprocess.run(
        [python, "-c", "import django"], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert no_server.returncode != 0 and "No module named 'django'" in no_server.stderr
    model = ROOT / "reference" / "models" / "mnist_cnn_shallow.onnx"
    check = subprocess.run(
        [str(bin_dir / "podium"), "check", str(model), "--preprocess", "mnist", "--json"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check.returncode == 0, check.stderr[-3000:]
    out = json.loads(check.stdout)
    # the bundled MNIST test set came with the distribution; the score is the manifest's
    manifest = json.loads((ROOT / "reference" / "manifest.json").read_text())
    entries = manifest["models"] if isinstance(manifest, dict) else manifest
    expected = next(e for e in entries if e["name"] == "mnist_cnn_shallow")["test_accuracy"]
    assert out["ok"] and out["n_images"] == 10_000
    assert round(out["accuracy"], 4) == expected
    # a student's NumPy conversion with the installed helper: the MLP baseline's PyTorch-style
    # weights, written by grader.npnet.save and checked, score what the baseline scores
    save = (
        "import sys, onnx, grader\n"
        "from onnx import numpy_helper\n"
        "g = onnx.load(sys.argv[1]).graph\n"
        "a = {t.name: numpy_helper.to_array(t) for t in g.initializer}\n"
        "grader.npnet.save('mlp.npz', [('dense', a['inner.0.weight'], a['inner.0.bias']), 'relu',"
        " ('dense', a['inner.2.weight'], a['inner.2.bias']), 'softmax'], input_shape=[784],"
        " preprocess='mnist', weight_layout='out_in')\n"
    )
    baseline = ROOT / "reference" / "models" / "mnist_mlp_50.onnx"
    subprocess.run([python, "-c", save, str(baseline)], cwd=elsewhere, env=env, check=True)
    npz = subprocess.run(
        [str(bin_dir / "podium"), "check", "mlp.npz", "--json"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert npz.returncode == 0, npz.stderr[-3000:]
    expected = next(e for e in entries if e["name"] == "mnist_mlp_50")["test_accuracy"]
    assert round(json.loads(npz.stdout)["accuracy"], 4) == expected
    found = subprocess.run(
        [python, "-c", "import grader, podium_client; print(grader.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert str(venv) in found.stdout
    # a Keras file as model.save wrote it: grader.keras and h5py came with the distribution
    keras_file = ROOT / "tests" / "grader" / "keras_fixtures" / "mnist_k3.keras"
    keras_check = subprocess.run(
        [str(bin_dir / "podium"), "check", str(keras_file), "--json"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert keras_check.returncode == 0, keras_check.stderr[-3000:]
    fixtures = json.loads((keras_file.parent / "manifest.json").read_text())["files"]
    kept = round(json.loads(keras_check.stdout)["accuracy"], 4)
    assert kept == round(fixtures["mnist_k3.keras"]["mnist_accuracy"], 4)
