"""The diagnosis speaks at any score when another preprocessing or pixel order does clearly better
on the public sample, and costs a model declared right only a small probe."""

from __future__ import annotations

from pathlib import Path

import pytest

import grader
from grader import diagnose
from grader.adapt import InputPlan
from grader.datasets import Dataset
from grader.preprocess import PRESETS
from grader.sandbox import SandboxPool
from grader.types import Preprocess
from testsupport.frames import Frames, runs_sent

REPO = Path(__file__).resolve().parents[2]
PLAN = InputPlan("nchw", "dynamic", 256, "float32", (), ("nchw",))


def candidate(name: str) -> diagnose.Candidate:
    mean, std = PRESETS[name]
    return diagnose.Candidate(Preprocess(name, mean, std), PLAN, name, f"try {name}?")


def scripted(
    accuracy: dict[str, float],
) -> tuple[diagnose.RunFn, list[tuple[str, int, int]]]:
    """A run function answering fixed accuracies per preset, recording what ran on which images."""
    calls: list[tuple[str, int, int]] = []

    def run(cand: diagnose.Candidate, lo: int, hi: int) -> float:
        calls.append((cand.pre.name, lo, hi))
        return accuracy.get(cand.pre.name, 0.1)

    return run, calls


def test_a_model_scoring_well_is_told_when_another_preset_does_clearly_better(
    trained_bytes: bytes, mnist_small: Dataset, mnist_sample: Dataset, pool: SandboxPool
) -> None:
    # The [0,1] model declared 'raw' still scores above 0.8; [0,1] inputs do clearly better.
    r = grader.grade(
        trained_bytes, "m.onnx", mnist_small, preprocess="raw", sample=mnist_sample, pool=pool
    )
    assert 0.8 < r.accuracy < 0.88
    assert r.diagnosis is not None
    assert "0..255 inputs" in r.diagnosis and "('unit')" in r.diagnosis
    assert "is it trained" not in r.diagnosis


def test_is_it_trained_is_not_asked_when_a_declared_alternative_fixes_it() -> None:
    run, _ = scripted({"unit": 0.10, "raw": 0.30})
    _, text = diagnose.diagnose(run, candidate("unit"), [candidate("raw")], 256)
    assert text is not None and "try raw?" in text and "is it trained" not in text


def test_near_chance_with_nothing_better_asks_whether_it_is_trained() -> None:
    run, _ = scripted({"unit": 0.10, "raw": 0.11})
    _, text = diagnose.diagnose(run, candidate("unit"), [candidate("raw")], 256)
    assert text is not None and "is it trained?" in text


def test_alternatives_the_probe_rules_out_never_run_on_the_whole_sample() -> None:
    run, calls = scripted({"unit": 0.9, "raw": 0.1, "symmetric": 0.95, "mnist": 0.9})
    others = [candidate(n) for n in ("raw", "symmetric", "mnist")]
    declared_acc, text = diagnose.diagnose(run, candidate("unit"), others, 256)
    p = diagnose.PROBE_SIZE
    assert calls[:4] == [("unit", 0, p), ("raw", 0, p), ("symmetric", 0, p), ("mnist", 0, p)]
    assert sorted(calls[4:]) == [("symmetric", p, 256), ("unit", p, 256)]  # the rest only
    assert text is not None and "symmetric" in text and declared_acc == 0.9


def test_a_small_gain_is_not_a_suggestion() -> None:
    run, _ = scripted({"unit": 0.90, "mnist": 0.92})
    assert diagnose.diagnose(run, candidate("unit"), [candidate("mnist")], 256)[1] is None


def test_a_held_out_score_near_perfect_costs_no_sample_run(
    mnist_small: Dataset, mnist_sample: Dataset, pool: SandboxPool, sent_to_child: Frames
) -> None:
    cnn = (REPO / "reference" / "models" / "mnist_cnn_shallow.onnx").read_bytes()
    r = grader.grade(cnn, "cnn.onnx", mnist_small, sample=mnist_sample, pool=pool)
    assert r.accuracy >= 1.0 - diagnose.MARGIN and r.diagnosis is None
    assert [key for key, _ in runs_sent(sent_to_child)] == [mnist_small.sha256]


@pytest.mark.parametrize("channels", [1, 3])
def test_per_channel_presets_are_tried_on_colour_images_only(channels: int) -> None:
    names = {c.pre.name for c in diagnose.alternatives(candidate("unit").pre, PLAN, channels)}
    assert ("imagenet" in names) == ("cifar10" in names) == (channels == 3)
