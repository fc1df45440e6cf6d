"""Podium starter kit: a small CNN in PyTorch, exported to ONNX.

    python torch_cnn.py --data train.npz [--epochs 5] [--out model.onnx]

train.npz holds X (N, height, width, channels) uint8 pixels and y (N,) integer labels.
Inputs are pixel/255 (the `unit` preset, written into the file); the ONNX input is (N, C, H, W).
Needs torch and onnx (pip install torch onnx).
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import onnx
import torch
from torch import nn


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N images")
    # A fresh seed each run (printed): two students running the kit get two different models.
    parser.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(4), "little"))
    parser.add_argument("--out", default="model.onnx")
    args = parser.parse_args()
    print(f"seed {args.seed}")

    data = np.load(args.data)
    images, labels = data["X"], data["y"].astype(np.int64)
    if images.ndim == 3:
        images = images[..., None]
    if args.limit:
        images, labels = images[: args.limit], labels[: args.limit]
    x = torch.tensor(images, dtype=torch.float32).permute(0, 3, 1, 2) / 255.0  # NCHW in [0, 1]
    y = torch.tensor(labels)
    channels, height, width = x.shape[1:]
    torch.manual_seed(args.seed)
    model = nn.Sequential(
        nn.Conv2d(channels, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * (height // 4) * (width // 4), int(y.max()) + 1),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(args.epochs):
        model.train()
        for idx in torch.randperm(len(x)).split(64):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            accuracy = (model.eval()(x).argmax(1) == y).float().mean().item()
        print(f"epoch {epoch + 1}: training accuracy {accuracy:.4f}")

    torch.onnx.export(
        model.eval(),
        (x[:1],),
        args.out,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
        opset_version=17,
        dynamo=False,
    )
    exported = onnx.load(args.out)
    exported.ir_version = min(exported.ir_version, 8)  # loads in every onnxruntime Podium uses
    onnx.helper.set_model_props(exported, {"podium.preprocess": "unit"})
    onnx.save(exported, args.out)
    print(f"saved {args.out}: upload it (preprocessing 'unit' is in the file)")


if __name__ == "__main__":
    main()
