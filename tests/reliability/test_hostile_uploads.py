"""Hostile uploads through the real platform (REST API -> Celery worker -> sandbox), one stack.

tests/grader shows each attack is caught by the engine; here the same files go through the web
and a real `celery worker`: the student gets the precise code and a message, the worker lives on,
nothing else is written, and the next normal submission is graded normally.
"""

from __future__ import annotations

import datetime as dt
import io
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from onnx import TensorProto, helper

from grader.sandbox import GRACE_S
from testsupport.hostile import endless_loop, expand_bomb, external_tensor, gemm_model
from testsupport.onnx_build import init, linear_model, make_model, raw, vi
from testsupport.reliability import competition, row, submit, wait_status
from testsupport.stack import Stack, api_get, api_submit, seed

pytestmark = pytest.mark.slow

TIME_LIMIT_S = 3  # the "digits" competition's limit: the endless Loop must stop near it
CRASH_QUEUE = "crash"  # only the worker started with PODIUM_TEST_CRASH consumes it
RNG = np.random.default_rng(0)
WEIGHTS = (RNG.normal(0, 0.01, (784, 10)).astype(np.float32), np.zeros(10, np.float32))


# --- hostile files (built with the engine tests' helpers) ------------------------------------


def external_data(location: str) -> bytes:
    return raw(gemm_model([], [external_tensor("W", location)]))


def sparse_initializer_bomb() -> bytes:
    """A one-value sparse initializer with a dense shape of 2**27 floats (512 MiB)."""
    values = helper.make_tensor("W_values", TensorProto.FLOAT, [1], [1.0])
    indices = helper.make_tensor("W_indices", TensorProto.INT64, [1], [0])
    model = gemm_model([], [])
    model.graph.sparse_initializer.append(helper.make_sparse_tensor(values, indices, [2**27]))
    return raw(model)


def custom_domain_op() -> bytes:
    nodes = [
        helper.make_node("Flatten", ["x"], ["flat"]),
        helper.make_node("EvilOp", ["flat"], ["y"], domain="evil.domain"),
    ]
    return raw(
        make_model(
            nodes,
            [vi("x", ["N", 1, 28, 28])],
            [vi("y", ["N", 10])],
            extra_opsets=[("evil.domain", 1)],
        )
    )


def random_bytes() -> bytes:
    return b"\x07" + bytes(np.random.default_rng(1).integers(0, 256, 4095, dtype=np.uint8))


def zip_renamed() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("model.h5", b"weights")
    return buf.getvalue()


def seven_classes() -> bytes:
    return raw(
        linear_model(np.zeros((784, 7), np.float32), np.zeros(7, np.float32), ["N", 1, 28, 28])
    )


def images_and_labels_inputs() -> bytes:
    nodes = [
        helper.make_node("Flatten", ["images"], ["flat"]),
        helper.make_node("Gemm", ["flat", "W"], ["logits"]),
        helper.make_node("Add", ["logits", "labels"], ["y"]),
    ]
    inputs = [vi("images", ["N", 1, 28, 28]), vi("labels", ["N", 10])]
    return raw(make_model(nodes, inputs, [vi("y", ["N", 10])], [init("W", np.zeros((784, 10)))]))


def nan_weights() -> bytes:
    w = WEIGHTS[0].copy()
    w[:, 3] = np.nan
    return raw(linear_model(w, WEIGHTS[1], ["N", 1, 28, 28]))


REFUSED = [  # (id, file, code, words the message must hold)
    (
        "external-data-path-traversal",
        external_data("../../../../etc/passwd"),
        "external_data",
        ["../../../../etc/passwd", "inside the file"],
    ),
    (
        "external-data-ort-mem-addr",
        external_data("*/_ORT_MEM_ADDR_/*"),
        "external_data",
        ["in-memory", "inside the file"],
    ),
    ("sparse-initializer-bomb", sparse_initializer_bomb(), "sparse_tensor", ["sparse"]),
    ("custom-domain-op", custom_domain_op(), "custom_domain", ["evil.domain:EvilOp"]),
    ("random-bytes", random_bytes(), "not_onnx", ["not an ONNX"]),
    ("zip-renamed-onnx", zip_renamed(), "not_onnx", ["zip", ".npz"]),
    ("empty-file", b"", "empty_file", ["empty"]),
    ("seven-class-output", seven_classes(), "bad_output", ["(N, 7)", "10 classes"]),
    (
        "images-and-labels-inputs",
        images_and_labels_inputs(),
        "too_many_inputs",
        ["'images', 'labels'", "Labels never go to a model"],
    ),
]


# --- one stack for the module ------------------------------------------------------------------


@pytest.fixture(scope="module")
def podium(rel_data, tmp_path_factory):
    """A stack with a normal worker (cpu queue) and one whose sandbox children SIGSEGV before
    running (PODIUM_TEST_CRASH=run, its own queue), both started at once."""
    stack = Stack(tmp_path_factory.mktemp("hostile") / "stack")
    try:
        stack.migrate()
        comps = [competition(time_limit_s=TIME_LIMIT_S), competition("crashy", queue=CRASH_QUEUE)]
        tokens = seed(stack, npz=rel_data["npz"], users=1, competitions=comps)
        stack.start_web(workers=1, threads=2)
        worker = stack.start_worker("w1", "cpu", wait=False)
        crasher = stack.start_worker(
            "crash", CRASH_QUEUE, wait=False, env={"PODIUM_TEST_CRASH": "run"}
        )
        worker.wait_log("ready.")
        crasher.wait_log("ready.")
        yield {
            "stack": stack,
            "tokens": tokens,
            "worker": worker,
            "crasher": crasher,
            "good": rel_data["good"],
        }
    finally:
        stack.close()


def submissions(stack: Stack) -> dict[str, tuple[Any, ...]]:
    """Every row's id -> (status, attempts, error_code, public_score): to see what changed."""
    rows = stack.sql(
        "SELECT id, status, attempts, error_code, public_score FROM competitions_submission"
    )
    return {str(r[0]).replace("-", ""): tuple(r[1:]) for r in rows}


def stored_files(stack: Stack) -> list[Path]:
    """Everything in the stack's private storage (uploads and the dataset)."""
    return sorted(p for p in (stack.var / "private").rglob("*") if p.is_file())


def leaderboard(podium: dict) -> list[tuple[str, float]]:
    board = api_get(
        podium["stack"].web_url, podium["tokens"]["student000"], "/competitions/digits/leaderboard"
    )
    return [(r["name"], r["score"]) for r in board["rows"]]


def grading_seconds(stack: Stack, sid: str) -> float:
    started, finished = stack.sql(
        "SELECT started_at, finished_at FROM competitions_submission"
        f" WHERE REPLACE(CAST(id AS TEXT), '-', '') = '{sid.replace('-', '')}'"
    )[0]

    def when(v: Any) -> dt.datetime:
        return v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(str(v))

    return (when(finished) - when(started)).total_seconds()


def assert_scored(podium: dict, slug: str = "digits") -> dict[str, Any]:
    sid = submit(podium["stack"], podium["tokens"], podium["good"], slug=slug)
    r = wait_status(podium["stack"], sid, ("scored", "failed"))
    assert r["status"] == "scored" and r["attempts"] == 1, r
    assert r["public_score"] is not None and r["public_score"] > 0.5, r
    return r


def assert_failed_for_the_student(podium: dict, sid: str, code: str, words: list[str]) -> dict:
    """One row, failed once with `code`; the API shows the student the code and the message."""
    stack = podium["stack"]
    r = wait_status(stack, sid, ("scored", "failed"))
    assert r["status"] == "failed" and r["attempts"] == 1, r
    assert r["error_code"] == code, r
    assert all(w in r["error_message"] for w in words), r["error_message"]
    assert r["public_score"] is None and r["result"] is None and r["counts_toward_quota"]
    seen = api_get(stack.web_url, podium["tokens"]["student000"], f"/submissions/{sid}")
    assert seen["status"] == "failed" and seen["error_code"] == code, seen
    assert seen["error_message"] == r["error_message"]
    return r


def assert_no_redelivery(stack: Stack, sid: str, code: str) -> None:
    """After a pause the failed row is still failed on its single attempt: no loop."""
    time.sleep(1.5)
    r = row(stack, sid)
    assert r["status"] == "failed" and r["attempts"] == 1 and r["error_code"] == code, r
    assert r["log"].count("started on") == 1, r["log"]


# --- refused at upload -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code", "words"), [p[1:] for p in REFUSED], ids=[p[0] for p in REFUSED]
)
def test_hostile_upload_is_refused_with_its_code_and_leaves_nothing(podium, data, code, words):
    stack = podium["stack"]
    before, files_before = submissions(stack), stored_files(stack)
    refusals = stack.sql("SELECT COUNT(*) FROM competitions_refusedupload")[0][0]
    status, body = api_submit(stack.web_url, podium["tokens"]["student000"], "digits", data)
    assert status == 400, (status, body)
    assert body["code"] == code and body["message"], body
    assert all(w in body["message"] for w in words), body["message"]
    assert submissions(stack) == before  # no row created, none changed
    assert stored_files(stack) == files_before  # nothing stored
    # The one thing a refusal writes: its record for the flood limit, with the same code.
    got = stack.sql("SELECT code FROM competitions_refusedupload ORDER BY id")
    assert len(got) == refusals + 1 and got[-1][0] == code, got
    assert podium["worker"].alive()


# --- failed while grading, in the real worker -------------------------------------------------

GRADE_FAILURES = [  # (id, file, code, words the message must hold)
    (
        "expand-memory-bomb",
        expand_bomb(WEIGHTS),
        "memory_limit",
        ["more memory than the", "limit allows"],
    ),
    ("loop-2-pow-62", endless_loop(WEIGHTS), "time_limit", [f"the {TIME_LIMIT_S} s limit"]),
    ("nan-weights", nan_weights(), "non_finite", ["NaN", "of 500 images"]),
]


@pytest.mark.parametrize(
    ("data", "code", "words"), [p[1:] for p in GRADE_FAILURES], ids=[p[0] for p in GRADE_FAILURES]
)
def test_model_failing_in_the_sandbox_fails_once_and_the_worker_grades_the_next(
    podium, data, code, words
):
    stack, worker = podium["stack"], podium["worker"]
    pid = worker.pid
    others, files, board = submissions(stack), len(stored_files(stack)), leaderboard(podium)
    sid = submit(stack, podium["tokens"], data)
    r = assert_failed_for_the_student(podium, sid, code, words)
    if code == "time_limit":
        took = grading_seconds(stack, sid)
        assert took < TIME_LIMIT_S + GRACE_S + 3, f"stopped after {took:.1f} s"
    now = submissions(stack)
    assert len(now) == len(others) + 1 and {k: now[k] for k in others} == others
    assert len(stored_files(stack)) == files + 1  # the failed row keeps its file, nothing else
    assert leaderboard(podium) == board  # a failure changes no standing
    assert worker.alive() and worker.pid == pid
    assert "WorkerLostError" not in worker.text()
    assert_scored(podium)  # the same student's good model, right after
    assert_no_redelivery(stack, sid, code)
    assert worker.alive()
    assert r["log"].count(f": {code}: ") == 1, r["log"]


# --- a sandbox child that segfaults ------------------------------------------------------------


def test_segfaulting_sandbox_child_is_crashed_and_a_normal_worker_grades_after(podium):
    stack, crasher = podium["stack"], podium["crasher"]
    others = submissions(stack)
    sid = submit(stack, podium["tokens"], podium["good"], slug="crashy")
    assert_failed_for_the_student(podium, sid, "crashed", ["SIGSEGV"])
    now = submissions(stack)
    assert len(now) == len(others) + 1 and {k: now[k] for k in others} == others
    assert crasher.alive(), crasher.text()[-2000:]  # the child died, not the worker
    assert_no_redelivery(stack, sid, "crashed")
    crasher.stop()
    normal = stack.start_worker("after-crash", CRASH_QUEUE, wait=False)
    r = assert_scored(podium, slug="crashy")  # queued until the new worker is ready
    assert "SIGSEGV" not in r["log"]
    assert normal.alive() and podium["worker"].alive()
    assert row(stack, sid)["attempts"] == 1
