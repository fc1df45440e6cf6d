"""`python -m grader check MODEL`: what students run before uploading; the platform runs the same.

Exit status 0 when scored, 2 when rejected or failed (the reason on stderr).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from grader.adapt import LAYOUTS
from grader.datasets import Dataset, load_dataset
from grader.efficiency import format_summary
from grader.engine import grade, preprocess_text
from grader.errors import DatasetError, GraderError
from grader.preprocess import PRESETS, declaration_checked
from grader.types import Limits

_REPO = Path(__file__).resolve().parent.parent


def _bundled_roots() -> list[Path]:
    """The repository's data/ folder, or the copy the podium-client distribution installs
    (package `podium_data`); anything else is named with --data."""
    roots = [_REPO / "data"]
    spec = importlib.util.find_spec("podium_data")
    if spec is not None and spec.submodule_search_locations:
        roots += [Path(p) for p in spec.submodule_search_locations]
    return roots


DEFAULT_DATA = {
    "mnist": [root / "mnist" for root in _bundled_roots()],
    "cifar10": [root / "cifar10" / "cifar10-jpeg-test.zip" for root in _bundled_roots()],
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m grader", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser(
        "check", help="validate and score a model (.onnx, NumPy .npz, or Keras .keras/.h5)"
    )
    c.add_argument("model", type=Path)
    c.add_argument("--dataset", choices=sorted(DEFAULT_DATA), default="mnist")
    c.add_argument(
        "--data", type=Path, help="dataset file or folder (default: the bundled test set)"
    )
    c.add_argument(
        "--preprocess",
        choices=[*sorted(PRESETS), "custom"],
        help="declared preprocessing: a preset, or custom with --mean and --std",
    )
    c.add_argument(
        "--mean", help="custom mean, one value or one per channel: 0.5 or 0.49,0.48,0.45"
    )
    c.add_argument("--std", help="custom std, as --mean")
    c.add_argument("--layout", choices=LAYOUTS, help="the model's input layout")
    c.add_argument("--time-limit", type=float, default=Limits.time_s, metavar="SECONDS")
    c.add_argument("--memory-limit", type=int, default=Limits.memory_mb, metavar="MB")
    c.add_argument("--threads", type=int, default=Limits.threads)
    c.add_argument("--cpu", action="store_true", help="never use CUDA")
    c.add_argument("--json", action="store_true", help="one JSON object on stdout")
    return p


def _data_path(args: argparse.Namespace) -> Path:
    if args.data:
        return Path(args.data)
    for cand in DEFAULT_DATA[args.dataset]:
        if cand.exists():
            return cand
    raise DatasetError("not_found", f"no bundled {args.dataset} test set found; pass --data PATH")


def _sample(path: Path) -> Dataset | None:
    try:
        return load_dataset(path, split="train")
    except GraderError:
        return None  # no public training images beside the test set: no diagnosis


def _print_human(result: dict[str, Any], summary: str) -> None:
    print("Adaptation:")
    for note in result["adaptation"]:
        print(f"  - {note}")
    print()
    print(summary)
    print()
    print(f"Diagnosis: {result['diagnosis'] or 'none (the declared preprocessing looks right)'}")
    s = result["scores"]
    print(
        f"Accuracy: {result['accuracy']:.4f} on {result['n_images']:,} images"
        f" (dataset sha256 {result['dataset_sha256'][:16]}...)"
    )
    print(
        f"Macro-F1: {s['macro_f1']:.4f}"
        + (f"   log-loss: {s['log_loss']:.4f}" if s["log_loss"] is not None else "")
    )
    pcs = " ".join(f"{a:.3f}" if a is not None else "-" for a in s["per_class_accuracy"])
    print(f"Per-class accuracy: {pcs}")
    macs = "unavailable" if result["macs"] is None else f"{result['macs']:,}"
    print(
        f"Params: {result['params']:,}   MACs/image: {macs}   file: {result['file_bytes']:,} bytes"
    )
    print(f"Inference: {result['ms_per_image']:.4f} ms/image on {result['provider']}")
    for limit in result.get("limits_not_applied") or []:
        print(f"Not applied on this machine: {limit} (the platform applies it)")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        declaration_checked(args.preprocess, args.mean, args.std)  # before anything loads
        data_path = _data_path(args)
        dataset = load_dataset(data_path, split="test")
        model = args.model.read_bytes()
        limits = Limits(
            time_s=args.time_limit,
            memory_mb=args.memory_limit,
            threads=args.threads,
            use_cuda=False if args.cpu else None,
        )
        result = grade(
            model,
            args.model.name,
            dataset,
            preprocess=args.preprocess,
            mean=args.mean,
            std=args.std,
            layout=args.layout,
            sample=_sample(data_path),
            limits=limits,
        )
    except GraderError as e:
        print(f"rejected [{e.code}]: {e.message}", file=sys.stderr)
        if args.json:
            print(json.dumps({"ok": False, **e.to_dict()}))
        return 2
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = result.to_dict()
    out["preprocess_text"] = preprocess_text(result.preprocess)
    if args.json:
        print(json.dumps({"ok": True, **out}))
    else:
        _print_human(out, format_summary(result.summary, result.params))
    return 0
