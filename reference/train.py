"""Train one reference model, export it to ONNX and record it in the manifest.

    python -m reference.train NAME --data PATH [--epochs N] [--resume]

PATH is an MNIST IDX directory or the CIFAR-10 image zip; it is read through
`grader.datasets.load_dataset`, and decoded arrays are cached under reference/checkpoints/data/.
Every epoch writes reference/checkpoints/NAME/last.pt; `--resume` continues from it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from reference import manifest
from reference.augment import augment
from reference.data import load_split, split_indices
from reference.nets import SPECS, Spec, build, count_macs, count_params
from reference.onnxcheck import accuracy, sha256_file
from reference.preprocess import mean_std

CKPT = Path(__file__).resolve().parent / "checkpoints"


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


class Batcher:
    """uint8 NHWC images -> normalised float input in the model's layout (with augmentation)."""

    def __init__(self, spec: Spec) -> None:
        c = spec.image_shape[2]
        m, s = mean_std(spec.preprocess, c)
        self.mean = torch.from_numpy(m).view(1, c, 1, 1)
        self.std = torch.from_numpy(s).view(1, c, 1, 1)
        self.layout = spec.layout

    def __call__(
        self, images: np.ndarray, gen: torch.Generator | None = None, aug: Any = None
    ) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)
        if gen is not None and aug:
            x = augment(x, gen, aug)
        x = (x - self.mean) / self.std
        if self.layout == "nchw":
            return x.contiguous()
        x = x.permute(0, 2, 3, 1)
        return x.reshape(x.shape[0], -1) if self.layout == "flat_hwc" else x.contiguous()


def evaluate(
    model: nn.Module, batcher: Batcher, images: np.ndarray, labels: np.ndarray
) -> tuple[float, float]:
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(images), 1000):
            out = model(batcher(images[i : i + 1000]))
            y = torch.from_numpy(labels[i : i + 1000])
            loss += F.cross_entropy(out, y, reduction="sum").item()
            correct += int((out.argmax(1) == y).sum())
    return loss / len(images), correct / len(images)


def make_optimizer(model: nn.Module, r: dict[str, Any]) -> torch.optim.Optimizer:
    if r["optimizer"] == "rmsprop":  # Keras RMSprop: rho 0.9, epsilon 1e-7
        return torch.optim.RMSprop(model.parameters(), lr=r["lr"], alpha=0.9, eps=1e-7)
    return torch.optim.SGD(
        model.parameters(),
        lr=r["lr"],
        momentum=r["momentum"],
        nesterov=r["nesterov"],
        weight_decay=r["weight_decay"],
    )


def make_schedule(opt: torch.optim.Optimizer, r: dict[str, Any], steps: int) -> Any:
    if r["schedule"] == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            opt,
            max_lr=r["lr"],
            total_steps=steps,
            pct_start=0.25,
            cycle_momentum=r["optimizer"] == "sgd",
        )
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda _s: 1.0)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m reference.train", description=__doc__.split("\n")[0]
    )
    ap.add_argument("name", choices=sorted(SPECS))
    ap.add_argument("--data", required=True, type=Path, help="MNIST IDX dir or CIFAR-10 zip")
    ap.add_argument("--epochs", type=int, help="override the recipe's epoch count")
    ap.add_argument("--lr", type=float, help="override the recipe's (peak) learning rate")
    ap.add_argument("--resume", action="store_true", help="continue from checkpoints/NAME/last.pt")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-export", action="store_true", help="train only")
    ap.add_argument(
        "--export-only", action="store_true", help="re-export the checkpoint's best weights"
    )
    ap.add_argument(
        "--extend",
        type=int,
        metavar="N",
        help="after the recipe's epochs, train N more with a cosine decay from --extend-lr",
    )
    ap.add_argument("--extend-lr", type=float, help="default: the recipe's peak lr / 5")
    return ap.parse_args(argv)


def recipes(spec: Spec, args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the recipe this run follows, the base recipe without an --extend extension)."""
    r = dict(spec.recipe)
    if args.epochs:
        r["epochs"] = args.epochs
    if args.lr:
        r["lr"] = args.lr
    base = dict(r)
    if args.extend:
        r["extension"] = {
            "epochs": args.extend,
            "lr": args.extend_lr or r["lr"] / 5,
            "schedule": "cosine",
            "momentum": 0.9,
        }
    return r, base


@dataclass
class Data:
    """The training/validation split of the training images and the held-out test set."""

    x_tr: np.ndarray
    y_tr: np.ndarray
    x_va: np.ndarray
    y_va: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    test_sha: str
    path: Path

    @classmethod
    def load(cls, spec: Spec, r: dict[str, Any], path: Path) -> Data:
        x_all, y_all, _ = load_split(path, "train")
        x_test, y_test, test_sha = load_split(path, "test")
        if x_all.shape[1:] != spec.image_shape:
            raise SystemExit(
                f"{path}: images are {x_all.shape[1:]}, {spec.name} wants {spec.image_shape}"
            )
        tr, va = split_indices(len(x_all), r)
        return cls(x_all[tr], y_all[tr], x_all[va], y_all[va], x_test, y_test, test_sha, path)


@dataclass
class Run:
    """Everything a training run carries from epoch to epoch (and saves in its checkpoint)."""

    spec: Spec
    r: dict[str, Any]
    model: nn.Module
    opt: torch.optim.Optimizer
    sched: Any
    gen: torch.Generator
    steps_per_epoch: int
    total_epochs: int
    state: dict[str, Any] = field(
        default_factory=lambda: {
            "epoch": 0,
            "history": [],
            "best_acc": -1.0,
            "best_epoch": 0,
            "best_model": None,
            "elapsed": 0.0,
            "bad_epochs": 0,
        }
    )

    @property
    def ck(self) -> Path:
        return CKPT / self.spec.name / "last.pt"

    def save(self) -> None:
        self.ck.parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "model": self.model.state_dict(),
                "opt": self.opt.state_dict(),
                "sched": self.sched.state_dict(),
                "gen": self.gen.get_state(),
                "state": self.state,
                "recipe": self.r,
            },
            self.ck.with_suffix(".tmp"),
        )
        self.ck.with_suffix(".tmp").replace(self.ck)


def new_run(spec: Spec, r: dict[str, Any], n_train: int, total_epochs: int) -> Run:
    steps_per_epoch = math.ceil(n_train / r["batch"])
    model = build(spec.name, r["seed"])
    if any(isinstance(m, nn.Conv2d) for m in model.modules()):
        model = model.to(memory_format=torch.channels_last)  # faster convolutions on CPU
    opt = make_optimizer(model, r)
    sched = make_schedule(opt, r, r["epochs"] * steps_per_epoch)
    gen = torch.Generator().manual_seed(r["seed"])
    return Run(spec, r, model, opt, sched, gen, steps_per_epoch, total_epochs)


def restore(run: Run, args: argparse.Namespace, base: dict[str, Any]) -> None:
    """Load the checkpoint into `run` for --resume, --export-only and --extend."""
    ck = run.ck
    if args.export_only and not ck.exists():
        raise SystemExit(f"{ck}: no checkpoint to export")
    if args.extend and not ck.exists():
        raise SystemExit(f"{ck}: --extend continues a finished run; none saved")
    if not ((args.resume or args.export_only or args.extend) and ck.exists()):
        return
    saved = torch.load(ck, weights_only=False)
    starting_extension = args.extend and "extension" not in saved["recipe"]
    if args.export_only:
        run.r = saved["recipe"]
    elif saved["recipe"] != (base if starting_extension else run.r):
        raise SystemExit(f"{ck}: saved with a different recipe {saved['recipe']}; not resuming")
    run.model.load_state_dict(saved["model"])
    run.opt.load_state_dict(saved["opt"])
    run.gen.set_state(saved["gen"])
    run.state = saved["state"]
    if "extension" not in run.r:
        run.sched.load_state_dict(saved["sched"])
    else:
        ext = run.r["extension"]
        if starting_extension:
            if run.state["epoch"] < run.r["epochs"]:
                raise SystemExit(f"{ck}: the base run is not finished; use --resume first")
            for g in run.opt.param_groups:
                g["lr"] = g["initial_lr"] = ext["lr"]
                if "momentum" in g:
                    g["momentum"] = ext["momentum"]
            run.state["bad_epochs"] = 0
        run.sched = torch.optim.lr_scheduler.CosineAnnealingLR(
            run.opt, T_max=ext["epochs"] * run.steps_per_epoch
        )
        if not starting_extension:
            run.sched.load_state_dict(saved["sched"])
    log(f"resumed {run.spec.name} after epoch {run.state['epoch']}")


def train_epoch(
    run: Run, data: Data, batcher: Batcher, order: np.ndarray, t0: float
) -> tuple[float, float]:
    """One pass over the training split in `order`: (mean loss, accuracy) on what it saw."""
    r, bs = run.r, run.r["batch"]
    bf16 = r.get("precision") == "bf16"
    smoothing = float(r.get("label_smoothing", 0.0))
    run.model.train()
    tot_loss, tot_ok, seen = 0.0, 0, 0
    for step in range(run.steps_per_epoch):
        idx = order[step * bs : (step + 1) * bs]
        xb = batcher(data.x_tr[idx], run.gen, r["augmentation"])
        yb = torch.from_numpy(data.y_tr[idx])
        # bf16 autocast: oneDNN's AVX512-BF16 kernels make a CIFAR epoch ~1.7x faster on
        # these CPUs; master weights, the loss and evaluation stay float32
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = run.model(xb)
        loss = F.cross_entropy(out.float(), yb, label_smoothing=smoothing)
        run.opt.zero_grad(set_to_none=True)
        loss.backward()
        run.opt.step()
        run.sched.step()
        tot_loss += loss.item() * len(idx)
        tot_ok += int((out.argmax(1) == yb).sum())
        seen += len(idx)
        if step and step % 200 == 0 and run.steps_per_epoch > 400:
            print(
                f"    step {step}/{run.steps_per_epoch} loss {tot_loss / seen:.4f} "
                f"acc {tot_ok / seen:.4f} {time.time() - t0:.0f}s",
                flush=True,
            )
    return tot_loss / seen, tot_ok / seen


def record_epoch(run: Run, train: tuple[float, float], val: tuple[float, float], dt: float) -> None:
    """History, best weights so far and early-stopping count after one epoch."""
    state = run.state
    (train_loss, train_acc), (val_loss, val_acc) = train, val
    state["epoch"] += 1
    state["elapsed"] += dt
    lr = run.opt.param_groups[0]["lr"]
    state["history"].append(
        {
            "epoch": state["epoch"],
            "train_loss": train_loss,
            "train_acc": train_acc,
            "val_loss": val_loss,
            "val_acc": val_acc,
            "lr": lr,
            "seconds": dt,
        }
    )
    if val_acc >= state["best_acc"]:  # ties: the later epoch, further into the LR anneal
        state["best_acc"], state["best_epoch"], state["bad_epochs"] = val_acc, state["epoch"], 0
        state["best_model"] = {k: v.clone() for k, v in run.model.state_dict().items()}
    else:
        state["bad_epochs"] += 1
    log(
        f"{run.spec.name} epoch {state['epoch']}/{run.total_epochs} loss {train_loss:.4f} "
        f"acc {train_acc:.4f} val_loss {val_loss:.4f} val_acc {val_acc:.4f} "
        f"lr {lr:.5f} {dt:.0f}s (best {state['best_acc']:.4f} @ {state['best_epoch']})"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    spec = SPECS[args.name]
    r, base = recipes(spec, args)
    data = Data.load(spec, r, args.data)
    batcher = Batcher(spec)
    run = new_run(spec, r, len(data.x_tr), r["epochs"] + (args.extend or 0))
    restore(run, args, base)
    log(
        f"{spec.name}: train {len(data.x_tr)} val {len(data.x_va)} test {len(data.x_test)}; "
        f"recipe {json.dumps(run.r)}"
    )
    rng = np.random.default_rng(run.r["seed"] + 1)
    for _ in range(run.state["epoch"]):  # replay shuffles so a resumed run sees the same order
        rng.permutation(len(data.x_tr))
    while (
        not args.export_only
        and run.state["epoch"] < run.total_epochs
        and run.state["bad_epochs"] < run.r["patience"]
    ):
        t0 = time.time()
        train = train_epoch(run, data, batcher, rng.permutation(len(data.x_tr)), t0)
        val = evaluate(run.model, batcher, data.x_va, data.y_va)
        record_epoch(run, train, val, time.time() - t0)
        run.save()
    if run.state["bad_epochs"] >= run.r["patience"]:
        log(f"early stop: no val improvement for {run.r['patience']} epochs")
    if args.no_export:
        return 0
    run.model.load_state_dict(run.state["best_model"])
    return export_and_record(run, data)


def export_and_record(run: Run, data: Data) -> int:
    """Export the best weights to ONNX, check them in onnxruntime and upsert the manifest entry."""
    spec, model, r, state = run.spec, run.model, run.r, run.state
    x_test, y_test, test_sha = data.x_test, data.y_test, data.test_sha
    n_train, n_val = len(data.x_tr), len(data.x_va)
    from reference.export import export_onnx

    model = model.to(memory_format=torch.contiguous_format).eval()
    _, torch_acc = evaluate(model, Batcher(spec), x_test, y_test)
    out = manifest.MODELS / f"{spec.name}.onnx"
    export_onnx(model, spec, out, {"podium.params": str(spec.params)})
    test_acc = accuracy(out, x_test, y_test, spec.preprocess, spec.layout)
    if abs(test_acc - torch_acc) > 1e-3:
        raise SystemExit(f"ONNX accuracy {test_acc} differs from torch {torch_acc}")
    total, trainable = count_params(model)
    assert (total, trainable) == (spec.params, spec.trainable_params)
    jpeg = spec.dataset == "cifar10" and data.path.suffix == ".zip"
    entry = {
        "name": spec.name,
        "format": "onnx",
        "dataset": spec.dataset,
        "test_data": "CIFAR-10 (JPEG copy)"
        if jpeg
        else ("MNIST" if spec.dataset == "mnist" else "CIFAR-10"),
        "test_sha256": test_sha,
        "file": f"models/{spec.name}.onnx",
        "description": spec.description,
        "params": spec.params,
        "trainable_params": spec.trainable_params,
        "macs": count_macs(model, spec.input_shape()),
        "preprocess": spec.preprocess,
        "layout": spec.layout,
        "output": spec.output,
        "recipe": {
            k: r[k]
            for k in (
                "optimizer",
                "lr",
                "momentum",
                "nesterov",
                "weight_decay",
                "schedule",
                "batch",
                "augmentation",
                "subset",
                "patience",
                "val_fraction",
                "seed",
                "precision",
                "label_smoothing",
                "extension",
            )
            if k in r
        },
        "epochs": state["epoch"],
        "best_epoch": state["best_epoch"],
        "train_size": n_train,
        "val_size": n_val,
        "val_accuracy": round(state["best_acc"], 4),
        "test_accuracy": round(test_acc, 4),
        "test_size": int(len(y_test)),
        "course_accuracy": spec.course_accuracy,
        "target_accuracy": spec.target_accuracy,
        "course_note": spec.course_note,
        "sha256": sha256_file(out),
        "size_bytes": out.stat().st_size,
        "train_seconds": round(state["elapsed"], 1),
        "command": f"python -m reference.train {spec.name} --data {data.path}",
    }
    manifest.upsert(entry)
    log(
        f"exported {out.name}: test accuracy {test_acc:.4f}"
        f"{' on CIFAR-10 (JPEG copy)' if jpeg else ''} (course {spec.course_accuracy})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
