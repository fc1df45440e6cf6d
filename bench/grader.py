"""`make bench-grader`: the grader's wall time against a bare onnxruntime loop, same run, same model.

Both sides do the whole job for one submission on the full held-out set: the bare loop creates a
session, preprocesses and runs batches of 256, and takes the argmax; the grader does everything
it does for a student (static checks, efficiency analysis, a warm sandbox child, the diagnosis
on the public sample, inference, interpretation, metrics). Each is measured REPEATS times,
interleaved, and the medians are compared. Goal: ratio <= 1.2.

Keras rows (`--keras` runs only those): the course's models saved by real Keras
(tests/grader/keras_fixtures/course, weights zeroed: timing does not depend on them; zip members
stored, as Keras writes them) checked as the `.keras` file and as its ONNX twin (the converter's
output, uploaded as `.onnx`), interleaved in the same run, in the pre-started analysis child. The
difference is what the conversion adds to a submission; goal <= 100 ms.
Then the robustness track's cost: the grader on the held-out set alone against the grader on
the set plus its corrupted copies (grader.corruptions, as the platform appends them: one run).
Goal: the whole submission within 2.2 × the clean run.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import platform
import statistics
import time
import zipfile
from pathlib import Path

import numpy as np

from grader import check_upload, grade
from grader.datasets import Dataset, load_dataset
from grader.keras import keras_to_onnx
from grader.preprocess import PRESETS
from grader.sandbox import SandboxPool
from grader.types import Limits
from testsupport.reference_models import KERAS_COURSE, REPO, bench_models, onnx_meta

DATA = {
    "mnist": REPO / "data" / "mnist",
    "cifar10": REPO / "data" / "cifar10" / "cifar10-jpeg-test.zip",
}
THREADS = 2


def bare_loop(
    model: bytes,
    ds: Dataset,
    layout: str,
    mean: np.ndarray,
    std: np.ndarray,
    *,
    threads: int = THREADS,
) -> tuple[float, float]:
    """Seconds and accuracy of the plainest correct onnxruntime evaluation."""
    import onnxruntime as ort

    t0 = time.perf_counter()
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    preds = []
    for i in range(0, len(ds), 256):
        x = (ds.images[i : i + 256].astype(np.float32) / np.float32(255.0) - mean) / std
        if layout == "nchw":
            x = x.transpose(0, 3, 1, 2)
        elif layout.startswith("flat"):
            x = x.reshape(len(x), -1)
        preds.append(sess.run(None, {name: np.ascontiguousarray(x)})[0].argmax(axis=1))
    acc = float((np.concatenate(preds) == ds.labels).mean())
    return time.perf_counter() - t0, acc


def _stored(data: bytes) -> bytes:
    """The zip as Keras writes it, members stored uncompressed (the committed fixtures are
    deflated to keep the repository small)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info), compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


def keras_rows(
    datasets: dict[str, Dataset], limits: Limits, pool: SandboxPool, repeats: int
) -> list[dict[str, object]]:
    """The upload check (the analysis child: parse, convert, checks) of each `.keras` file
    against its ONNX twin, interleaved, then one grading of each: what the conversion adds."""
    rows: list[dict[str, object]] = []
    print(
        f"{'keras file':<20}{'MB':>6}{'convert ms':>11}{'check .onnx':>12}{'check .keras':>13}{'added ms':>9}{'grade .onnx':>12}{'grade .keras':>13}"
    )
    for name, dsname in (("mnist_lenet_small", "mnist"), ("cifar10_cnn_bn", "cifar10")):
        data = _stored((KERAS_COURSE / f"{name}.keras").read_bytes())
        ds = datasets[dsname]

        check = functools.partial(
            check_upload, image_shape=ds.image_shape, n_classes=len(ds.classes), limits=limits
        )
        keras_to_onnx(data, max_weight_bytes=1 << 30)  # imports warm
        t0 = time.perf_counter()
        model, _ = keras_to_onnx(data, max_weight_bytes=1 << 30)
        convert_ms = (time.perf_counter() - t0) * 1e3
        twin = model.SerializeToString()
        check(data, name + ".keras")
        onnx_t, keras_t = [], []
        for _ in range(max(repeats, 5)):
            t0 = time.perf_counter()
            check(twin, name + ".onnx")
            onnx_t.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            check(data, name + ".keras")
            keras_t.append(time.perf_counter() - t0)
        o, k = statistics.median(onnx_t), statistics.median(keras_t)
        t0 = time.perf_counter()
        go = grade(twin, name + ".onnx", ds, limits=limits, pool=pool)
        grade_onnx = time.perf_counter() - t0
        t0 = time.perf_counter()
        gk = grade(data, name + ".keras", ds, limits=limits, pool=pool)
        grade_keras = time.perf_counter() - t0
        assert gk.accuracy == go.accuracy  # the same model either way
        row = {
            "model": name + ".keras",
            "dataset": dsname,
            "file_mb": len(data) / 2**20,
            "convert_ms": convert_ms,
            "check_onnx_ms": o * 1e3,
            "check_keras_ms": k * 1e3,
            "added_ms": (k - o) * 1e3,
            "grade_onnx_s": grade_onnx,
            "grade_keras_s": grade_keras,
        }
        rows.append(row)
        print(
            f"{name:<20}{len(data) / 2**20:>6.1f}{convert_ms:>11.1f}{o * 1e3:>12.1f}{k * 1e3:>13.1f}"
            f"{(k - o) * 1e3:>9.1f}{grade_onnx:>12.2f}{grade_keras:>13.2f}"
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", help="substring of model names to run")
    ap.add_argument("--json", type=Path, help="write results here")
    ap.add_argument("--keras", action="store_true", help="only the Keras rows")
    ap.add_argument("--robustness-only", action="store_true", help="only the robustness rows")
    args = ap.parse_args()
    datasets = {k: load_dataset(v) for k, v in DATA.items()}
    samples = {k: load_dataset(v, split="train") for k, v in DATA.items()}
    pool = SandboxPool(warm=True)  # as a worker holds it
    limits = Limits(threads=THREADS, use_cuda=False)
    rows: list[dict[str, object]] = []
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {THREADS} onnxruntime threads; "
        f"CIFAR-10 figures are on the JPEG copy"
    )
    print(
        f"{'model':<22}{'dataset':<9}{'images':>7}{'bare s':>9}{'grader s':>10}{'ratio':>7}"
        f"{'acc bare':>10}{'acc grader':>11}  origin"
    )
    for name, dsname, model, origin in bench_models():
        if args.keras or args.robustness_only:
            break
        if args.only and args.only not in name:
            continue
        ds = datasets[dsname]
        meta = onnx_meta(model)
        mean, std = PRESETS[meta.get("podium.preprocess", "unit")]
        ext = ".npz" if model[:2] == b"PK" else ".onnx"
        probe = grade(
            model, name + ext, ds, limits=limits, pool=pool
        )  # warm-up, and the layout used
        m, s = np.asarray(mean, np.float32), np.asarray(std, np.float32)
        bare_t, grader_t = [], []
        acc_b = acc_g = 0.0
        for _ in range(args.repeats):
            tb, acc_b = bare_loop(model, ds, probe.layout, m, s)
            t0 = time.perf_counter()
            r = grade(model, name + ext, ds, sample=samples[dsname], limits=limits, pool=pool)
            grader_t.append(time.perf_counter() - t0)
            bare_t.append(tb)
            acc_g = r.accuracy
        b, g = statistics.median(bare_t), statistics.median(grader_t)
        rows.append(
            {
                "model": name,
                "dataset": dsname,
                "images": len(ds),
                "bare_s": b,
                "grader_s": g,
                "ratio": g / b,
                "acc_bare": acc_b,
                "acc_grader": acc_g,
                "origin": origin,
                "timings_ms": r.timings,
            }
        )
        print(
            f"{name:<22}{dsname:<9}{len(ds):>7}{b:>9.3f}{g:>10.3f}{g / b:>7.2f}{acc_b:>10.4f}{acc_g:>11.4f}  {origin}"
        )
    if not args.robustness_only:
        rows += keras_rows(datasets, limits, pool, args.repeats)
    if not args.keras:
        rows += robustness_rows(
            datasets=datasets,
            samples=samples,
            pool=pool,
            limits=limits,
            repeats=args.repeats,
            only=args.only,
        )
    pool.close()
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


def robustness_rows(
    *,
    datasets: dict[str, Dataset],
    samples: dict[str, Dataset],
    pool: SandboxPool,
    limits: Limits,
    repeats: int,
    only: str | None,
) -> list[dict[str, object]]:
    """Clean grading against grading the set plus its corrupted copies, same model, same run."""
    from grader.corruptions import robustness_set

    print(
        f"{'robustness track':<22}{'dataset':<9}{'images':>7}{'clean s':>9}{'+robust s':>10}{'ratio':>7}"
    )
    out: list[dict[str, object]] = []
    for name, dsname, model, _ in bench_models():
        if name not in ("mnist_cnn_deep", "cifar10_cnn_bn", "cifar10_cnn") or (
            only and only not in name
        ):
            continue
        ds = datasets[dsname]
        robust, _, _ = robustness_set(ds, seed=0)
        both = Dataset(
            ds.name,
            np.concatenate([ds.images, robust.images]),
            np.concatenate([ds.labels, robust.labels]),
            list(ds.classes),
            sha256=ds.sha256 + "+robust",
            scored=len(ds),  # as the platform grades it: the copies are predicted, not scored
        )
        grade(model, name + ".onnx", ds, limits=limits, pool=pool)  # warm-up
        clean_t: list[float] = []
        both_t: list[float] = []
        for _ in range(repeats):
            for target, times in ((ds, clean_t), (both, both_t)):
                t0 = time.perf_counter()
                grade(
                    model, name + ".onnx", target, sample=samples[dsname], limits=limits, pool=pool
                )
                times.append(time.perf_counter() - t0)
        c, b = statistics.median(clean_t), statistics.median(both_t)
        out.append(
            {"model": name, "dataset": dsname, "clean_s": c, "with_robust_s": b, "ratio": b / c}
        )
        print(f"{name:<22}{dsname:<9}{len(both):>7}{c:>9.3f}{b:>10.3f}{b / c:>7.2f}")
    return out


if __name__ == "__main__":
    main()
