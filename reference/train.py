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


def main(argv: list[str] | None = None) -> int:
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
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    spec = SPECS[args.name]
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
    total_epochs = r["epochs"] + (args.extend or 0)

    x_all, y_all, _ = load_split(args.data, "train")
    x_test, y_test, test_sha = load_split(args.data, "test")
    if x_all.shape[1:] != spec.image_shape:
        raise SystemExit(
            f"{args.data}: images are {x_all.shape[1:]}, {spec.name} wants {spec.image_shape}"
        )
    tr, va = split_indices(len(x_all), r)
    x_tr, y_tr, x_va, y_va = x_all[tr], y_all[tr], x_all[va], y_all[va]
    batcher = Batcher(spec)
    bs = r["batch"]
    steps_per_epoch = math.ceil(len(x_tr) / bs)

    model = build(spec.name, r["seed"])
    if any(isinstance(m, nn.Conv2d) for m in model.modules()):
        model = model.to(memory_format=torch.channels_last)  # faster convolutions on CPU
    opt = make_optimizer(model, r)
    sched = make_schedule(opt, r, r["epochs"] * steps_per_epoch)
    gen = torch.Generator().manual_seed(r["seed"])
    state: dict[str, Any] = {
        "epoch": 0,
        "history": [],
        "best_acc": -1.0,
        "best_epoch": 0,
        "best_model": None,
        "elapsed": 0.0,
        "bad_epochs": 0,
    }
    ck_dir = CKPT / spec.name
    ck = ck_dir / "last.pt"
    if args.export_only and not ck.exists():
        raise SystemExit(f"{ck}: no checkpoint to export")
    if args.extend and not ck.exists():
        raise SystemExit(f"{ck}: --extend continues a finished run; none saved")
    if (args.resume or args.export_only or args.extend) and ck.exists():
        saved = torch.load(ck, weights_only=False)
        starting_extension = args.extend and "extension" not in saved["recipe"]
        if args.export_only:
            r = saved["recipe"]
        elif saved["recipe"] != (base if starting_extension else r):
            raise SystemExit(f"{ck}: saved with a different recipe {saved['recipe']}; not resuming")
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        gen.set_state(saved["gen"])
        state = saved["state"]
        if "extension" in r:
            ext = r["extension"]
            if starting_extension:
                if state["epoch"] < r["epochs"]:
                    raise SystemExit(f"{ck}: the base run is not finished; use --resume first")
                for g in opt.param_groups:
                    g["lr"] = g["initial_lr"] = ext["lr"]
                    if "momentum" in g:
                        g["momentum"] = ext["momentum"]
                state["bad_epochs"] = 0
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(
                opt, T_max=ext["epochs"] * steps_per_epoch
            )
            if not starting_extension:
                sched.load_state_dict(saved["sched"])
        else:
            sched.load_state_dict(saved["sched"])
        log(f"resumed {spec.name} after epoch {state['epoch']}")
    log(
        f"{spec.name}: train {len(x_tr)} val {len(x_va)} test {len(x_test)}; recipe {json.dumps(r)}"
    )

    bf16 = r.get("precision") == "bf16"
    smoothing = float(r.get("label_smoothing", 0.0))
    rng = np.random.default_rng(r["seed"] + 1)
    for _ in range(state["epoch"]):  # replay shuffles so a resumed run sees the same order
        rng.permutation(len(x_tr))
    while (
        not args.export_only
        and state["epoch"] < total_epochs
        and state["bad_epochs"] < r["patience"]
    ):
        t0 = time.time()
        model.train()
        order = rng.permutation(len(x_tr))
        tot_loss, tot_ok, seen = 0.0, 0, 0
        for step in range(steps_per_epoch):
            idx = order[step * bs : (step + 1) * bs]
            xb = batcher(x_tr[idx], gen, r["augmentation"])
            yb = torch.from_numpy(y_tr[idx])
            # bf16 autocast: oneDNN's AVX512-BF16 kernels make a CIFAR epoch ~1.7x faster on
            # these CPUs; master weights, the loss and evaluation stay float32
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = model(xb)
            loss = F.cross_entropy(out.float(), yb, label_smoothing=smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot_loss += loss.item() * len(idx)
            tot_ok += int((out.argmax(1) == yb).sum())
            seen += len(idx)
            if step and step % 200 == 0 and steps_per_epoch > 400:
                print(
                    f"    step {step}/{steps_per_epoch} loss {tot_loss / seen:.4f} "
                    f"acc {tot_ok / seen:.4f} {time.time() - t0:.0f}s",
                    flush=True,
                )
        val_loss, val_acc = evaluate(model, batcher, x_va, y_va)
        state["epoch"] += 1
        dt = time.time() - t0
        state["elapsed"] += dt
        lr = opt.param_groups[0]["lr"]
        state["history"].append(
            {
                "epoch": state["epoch"],
                "train_loss": tot_loss / seen,
                "train_acc": tot_ok / seen,
                "val_loss": val_loss,
                "val_acc": val_acc,
                "lr": lr,
                "seconds": dt,
            }
        )
        if val_acc >= state["best_acc"]:  # ties: the later epoch, further into the LR anneal
            state["best_acc"], state["best_epoch"], state["bad_epochs"] = val_acc, state["epoch"], 0
            state["best_model"] = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            state["bad_epochs"] += 1
        log(
            f"{spec.name} epoch {state['epoch']}/{total_epochs} loss {tot_loss / seen:.4f} "
            f"acc {tot_ok / seen:.4f} val_loss {val_loss:.4f} val_acc {val_acc:.4f} "
            f"lr {lr:.5f} {dt:.0f}s (best {state['best_acc']:.4f} @ {state['best_epoch']})"
        )
        ck_dir.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "model": model.state_dict(),
                "opt": opt.state_dict(),
                "sched": sched.state_dict(),
                "gen": gen.get_state(),
                "state": state,
                "recipe": r,
            },
            ck.with_suffix(".tmp"),
        )
        ck.with_suffix(".tmp").replace(ck)
    if state["bad_epochs"] >= r["patience"]:
        log(f"early stop: no val improvement for {r['patience']} epochs")

    if args.no_export:
        return 0
    model.load_state_dict(state["best_model"])
    return export_and_record(
        spec, model, r, state, len(x_tr), len(x_va), x_test, y_test, test_sha, args.data
    )


def export_and_record(
    spec: Spec,
    model: nn.Module,
    r: dict[str, Any],
    state: dict[str, Any],
    n_train: int,
    n_val: int,
    x_test: np.ndarray,
    y_test: np.ndarray,
    test_sha: str,
    data: Path,
) -> int:
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
    jpeg = spec.dataset == "cifar10" and data.suffix == ".zip"
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
        "command": f"python -m reference.train {spec.name} --data {data}",
    }
    manifest.upsert(entry)
    log(
        f"exported {out.name}: test accuracy {test_acc:.4f}"
        f"{' on CIFAR-10 (JPEG copy)' if jpeg else ''} (course {spec.course_accuracy})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
