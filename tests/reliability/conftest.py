"""Fixtures for the reliability suite: private stacks (testsupport.stack) and tiny ONNX models.

Every test here runs its own database, broker, web server and workers in a temp dir and never
stops or restarts the machine's shared services; a test that takes a server down starts its own.
"""

from __future__ import annotations

import pytest

from testsupport.hostile import slow_model
from testsupport.mnist import logreg_models, mnist_dir, mnist_subset_npz
from testsupport.stack import Stack

SLOW_TRIPS = 40000  # several seconds of grading even on an idle machine (interrupted mid-run)


@pytest.fixture(scope="session")
def rel_data(tmp_path_factory) -> dict:
    try:
        mnist_dir()
    except FileNotFoundError as e:
        pytest.skip(str(e))
    d = tmp_path_factory.mktemp("reliability-data")
    return {
        "npz": mnist_subset_npz(d / "mnist500.npz", 500),
        "good": logreg_models((20,))[0],
        "slow": slow_model(SLOW_TRIPS),
    }


@pytest.fixture
def make_stack(tmp_path):
    """make_stack(**Stack kwargs) -> a migrated private stack, closed after the test."""
    stacks: list[Stack] = []

    def make(**kwargs) -> Stack:
        stack = Stack(tmp_path / f"stack{len(stacks)}", **kwargs)
        stacks.append(stack)
        stack.migrate()
        return stack

    yield make
    for stack in stacks:
        stack.close()
