"""The course's Keras models as PyTorch modules with Keras semantics.

- `padding="same"` is TensorFlow's asymmetric padding (see `reference.padding`), applied with an
  explicit pad before a `padding=0` convolution.
- Channels-last models take (N, H, W, C) and transpose to NCHW internally; channels-first models
  take (N, C, H, W).
- Flatten follows Keras 2: it always flattens in H, W, C order (`Flatten` on a channels-first
  tensor transposes to channels-last first, as Keras' `Flatten(data_format="channels_first")`).
- Kernels are Glorot-uniform, biases zero, BatchNormalization has Keras' epsilon 1e-3 and
  momentum 0.99, so parameter counts equal `model.summary()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from reference.padding import same_output_size, same_pads_2d, valid_output_size


class SameConv2d(nn.Module):
    """Conv2D(padding="same") with TensorFlow's padding for a fixed input size."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, in_hw: tuple[int, int]) -> None:
        super().__init__()
        top, bottom, left, right = same_pads_2d(in_hw, k, stride)
        self.pads = (left, right, top, bottom)  # F.pad order: last dim first
        self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=0)
        self.out_hw = (same_output_size(in_hw[0], stride), same_output_size(in_hw[1], stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self.pads):
            x = F.pad(x, self.pads)
        return self.conv(x)


class ToNCHW(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 3, 1, 2)


class FlattenHWC(nn.Module):
    """Keras Flatten of an NCHW tensor: flatten in H, W, C order."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, c, h, w = x.shape
        # reshape(-1, n) with a constant n exports as one Reshape with a constant shape, so ONNX
        # shape inference (and the engine's MAC count) sees the flattened width
        return x.permute(0, 2, 3, 1).reshape(-1, h * w * c)


def bn2d(n: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(n, eps=1e-3, momentum=0.01)


def bn1d(n: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(n, eps=1e-3, momentum=0.01)


def keras_init(model: nn.Module) -> nn.Module:
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


def mlp(n_in: int, hidden: list[int], dropout: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    d = n_in
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        d = h
    layers.append(nn.Linear(d, 10))
    return nn.Sequential(*layers)


def mnist_cnn_shallow() -> nn.Sequential:
    c1 = SameConv2d(1, 10, 5, 2, (28, 28))
    h, w = c1.out_hw
    return nn.Sequential(
        c1,
        nn.ReLU(),
        FlattenHWC(),
        nn.Linear(h * w * 10, 50),
        nn.ReLU(),
        nn.Linear(50, 10),
    )


def mnist_cnn_deep() -> nn.Sequential:
    c1 = SameConv2d(1, 10, 5, 2, (28, 28))
    c2 = SameConv2d(10, 40, 5, 2, c1.out_hw)
    c3 = SameConv2d(40, 80, 5, 1, c2.out_hw)
    h, w = c3.out_hw
    return nn.Sequential(
        c1,
        nn.ReLU(),
        c2,
        nn.ReLU(),
        c3,
        nn.ReLU(),
        nn.Dropout(0.5),
        FlattenHWC(),
        nn.Linear(h * w * 80, 50),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(50, 10),
    )


def mnist_lenet_small() -> nn.Sequential:
    s = valid_output_size(28, 3)  # 26
    s = valid_output_size(s, 2, 2)  # 13
    s = valid_output_size(s, 3)  # 11
    s = valid_output_size(s, 2, 2)  # 5
    return nn.Sequential(
        ToNCHW(),
        nn.Conv2d(1, 10, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(10, 5, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        FlattenHWC(),
        nn.Linear(s * s * 5, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def cifar10_cnn_bn(dropouts: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5)) -> nn.Sequential:
    layers: list[nn.Module] = [ToNCHW()]
    cin, hw = 3, (32, 32)
    for f, p in zip((32, 64, 128), dropouts[:3], strict=True):
        for _ in range(2):
            conv = SameConv2d(cin, f, 3, 1, hw)
            layers += [conv, nn.ReLU(), bn2d(f)]
            cin = f
        layers += [nn.MaxPool2d(2), nn.Dropout(p)]
        hw = (hw[0] // 2, hw[1] // 2)
    layers += [
        FlattenHWC(),
        nn.Linear(hw[0] * hw[1] * cin, 512),
        nn.ReLU(),
        bn1d(512),
        nn.Dropout(dropouts[3]),
        nn.Linear(512, 10),
    ]
    return nn.Sequential(*layers)


@dataclass
class Spec:
    """One reference model: architecture, Keras counts, I/O contract and training recipe."""

    name: str
    dataset: str  # mnist | cifar10
    build: Callable[[], nn.Module]
    params: int  # Keras model.summary() total
    trainable_params: int
    layout: str  # nchw | nhwc | flat_hwc
    preprocess: str  # unit | mnist | cifar10
    output: str  # logits | probabilities
    course_accuracy: float | None
    description: str
    recipe: dict[str, Any] = field(default_factory=dict)
    course_note: str = ""
    target_accuracy: float | None = None  # what the test must reach; default the course's figure

    def __post_init__(self) -> None:
        if self.target_accuracy is None:
            self.target_accuracy = self.course_accuracy

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (28, 28, 1) if self.dataset == "mnist" else (32, 32, 3)

    def input_shape(self, n: int = 1) -> tuple[int, ...]:
        h, w, c = self.image_shape
        return {"nchw": (n, c, h, w), "nhwc": (n, h, w, c), "flat_hwc": (n, h * w * c)}[self.layout]


def _sgd(lr: float, epochs: int, **kw: Any) -> dict[str, Any]:
    r: dict[str, Any] = {
        "optimizer": "sgd",
        "lr": lr,
        "momentum": 0.9,
        "nesterov": True,
        "weight_decay": 0.0,
        "schedule": "onecycle",
        "batch": 50,
        "epochs": epochs,
        "patience": 10,
        "augmentation": None,
        "subset": None,
        "val_fraction": 0.1,
        "seed": 0,
    }
    r.update(kw)
    return r


MNIST_AUG = {"rotation": 10.0, "shift": 0.1, "shear": 10.0, "zoom": 0.1, "noise": 0.1}
CIFAR_AUG = {"shift": 0.125, "integer_shift": True, "hflip": True, "padding_mode": "reflection"}

SPECS: dict[str, Spec] = {}


def _add(spec: Spec) -> None:
    SPECS[spec.name] = spec


_add(
    Spec(
        "mnist_logreg",
        "mnist",
        lambda: nn.Sequential(nn.Linear(784, 10)),
        7850,
        7850,
        "flat_hwc",
        "mnist",
        "probabilities",
        0.889,
        "Dense(10, softmax) on 784 inputs",
        _sgd(0.02, 15),
    )
)
_add(
    Spec(
        "mnist_mlp_50",
        "mnist",
        lambda: mlp(784, [50]),
        39760,
        39760,
        "flat_hwc",
        "mnist",
        "probabilities",
        0.9373,
        "Dense(50, relu), Dense(10, softmax)",
        _sgd(0.05, 20),
    )
)
_add(
    Spec(
        "mnist_mlp_500x2",
        "mnist",
        lambda: mlp(784, [500, 500]),
        648010,
        648010,
        "flat_hwc",
        "mnist",
        "logits",
        0.9517,
        "Dense(500, relu) x2, Dense(10)",
        _sgd(0.05, 20),
    )
)
_add(
    Spec(
        "mnist_mlp_512x3",
        "mnist",
        lambda: mlp(784, [512, 512, 512], 0.2),
        932362,
        932362,
        "flat_hwc",
        "mnist",
        "logits",
        None,
        "[Dense(512, relu), Dropout(0.2)] x3, Dense(10)",
        _sgd(0.05, 20),
    )
)
_add(
    Spec(
        "mnist_cnn_shallow",
        "mnist",
        mnist_cnn_shallow,
        98820,
        98820,
        "nchw",
        "mnist",
        "logits",
        0.9449,
        "channels-first Conv2D(10, 5x5, s2, same, relu), Flatten, Dense(50, relu), Dense(10)",
        _sgd(0.05, 20),
    )
)
_add(
    Spec(
        "mnist_cnn_deep",
        "mnist",
        mnist_cnn_deep,
        286940,
        286940,
        "nchw",
        "mnist",
        "logits",
        0.9726,
        "channels-first Conv2D(10,5x5,s2,same,relu), Conv2D(40,5x5,s2,same,relu), "
        "Conv2D(80,5x5,s1,same,relu), Dropout(0.5), Flatten, Dense(50,relu), Dropout(0.5), "
        "Dense(10)",
        _sgd(0.05, 20, augmentation=MNIST_AUG),
        target_accuracy=0.9851,
        course_note="course: 0.9726 plain, 0.9851 with augmentation and noise, both trained on "
        "6,000 images; this one is trained on all 60,000 (minus validation)",
    )
)
_add(
    Spec(
        "mnist_cnn_deep_6k",
        "mnist",
        mnist_cnn_deep,
        286940,
        286940,
        "nchw",
        "mnist",
        "logits",
        0.9851,
        "mnist_cnn_deep trained on a fixed 6,000-image subset of the training set",
        _sgd(0.05, 80, augmentation=MNIST_AUG, subset=6000, patience=30),
        course_note="like for like with the course's 6,000-image runs (0.9726 plain, "
        "0.9851 with augmentation and noise)",
    )
)
_add(
    Spec(
        "mnist_lenet_small",
        "mnist",
        mnist_lenet_small,
        9269,
        9269,
        "nhwc",
        "mnist",
        "logits",
        0.9866,
        "channels-last Conv2D(10,3x3,relu), MaxPool(2), Conv2D(5,3x3,relu), MaxPool(2), "
        "Flatten, Dense(64,relu), Dense(10)",
        _sgd(0.003, 30, optimizer="rmsprop", momentum=0.0, nesterov=False),
        course_note="course: RMSprop, 20 epochs (constant lr); here RMSprop with OneCycle, 30 epochs",
    )
)
_add(
    Spec(
        "cifar10_cnn_bn",
        "cifar10",
        cifar10_cnn_bn,
        1345066,
        1343146,
        "nhwc",
        "cifar10",
        "logits",
        0.90,
        "3 x [Conv2D(f,3x3,same,relu), BN, Conv2D(f,3x3,same,relu), BN, MaxPool(2), "
        "Dropout] f=32,64,128; Flatten; Dense(512,relu), BN, Dropout; Dense(10)",
        _sgd(
            0.05,
            100,
            weight_decay=5e-4,
            augmentation=CIFAR_AUG,
            patience=30,
            precision="bf16",
            label_smoothing=0.1,
        ),
        course_note="course: about 0.90 with augmentation, on official CIFAR-10; target here "
        ">= 0.87 on CIFAR-10 (JPEG copy)",
        target_accuracy=0.87,
    )
)
_add(
    Spec(
        "cifar10_logreg",
        "cifar10",
        lambda: nn.Sequential(nn.Linear(3072, 10)),
        30730,
        30730,
        "flat_hwc",
        "cifar10",
        "probabilities",
        None,
        "Dense(10, softmax) on 3072 inputs (H,W,C order): the CIFAR-10 floor",
        _sgd(0.01, 10),
    )
)


def build(name: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return keras_init(SPECS[name].build())


def count_params(model: nn.Module) -> tuple[int, int]:
    """(total, trainable) the way Keras counts: BN running mean/var are non-trainable params."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    buffers = sum(
        b.numel() for n, b in model.named_buffers() if n.endswith(("running_mean", "running_var"))
    )
    return trainable + buffers, trainable


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of Conv2d and Linear layers for one example."""
    total = 0

    def conv_hook(m: nn.Conv2d, _i: Any, out: torch.Tensor) -> None:
        nonlocal total
        kh, kw = m.kernel_size
        total += out[0].numel() * (m.in_channels // m.groups) * kh * kw

    def lin_hook(m: nn.Linear, _i: Any, _o: Any) -> None:
        nonlocal total
        total += m.in_features * m.out_features

    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(lin_hook))
    was = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(input_shape))
    model.train(was)
    for h in hooks:
        h.remove()
    return total
