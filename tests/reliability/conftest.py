"""Fixtures for the reliability suite: private stacks (bench/load.py) and tiny ONNX models.

Every test here runs its own database, broker, web server and workers in a temp dir and never
stops or restarts the machine's shared services; a test that takes a server down starts its own.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import load  # noqa: E402

SLOW_TRIPS = 40000  # several seconds of grading even on an idle machine (interrupted mid-run)


@pytest.fixture(scope="session")
def rel_data(tmp_path_factory) -> dict:
    try:
        load.mnist_dir()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    d = tmp_path_factory.mktemp("reliability-data")
    return {
        "npz": load.mnist_subset_npz(d / "mnist500.npz", 500),
        "good": load.logreg_models((20,))[0],
        "slow": load.slow_model(SLOW_TRIPS),
    }


@pytest.fixture
def make_stack(tmp_path):
    """make_stack(**Stack kwargs) -> a migrated private stack, closed after the test."""
    stacks: list[load.Stack] = []

    def make(**kwargs) -> load.Stack:
        stack = load.Stack(tmp_path / f"stack{len(stacks)}", **kwargs)
        stacks.append(stack)
        stack.migrate()
        return stack

    yield make
    for stack in stacks:
        stack.close()
