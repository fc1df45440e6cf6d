"""The course's models (parameter counts) and the files Podium refuses."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import keras
import numpy as np

from reference.keras_fixtures.common import (
    OUT,
    L,
)

# ---- the course's models: parameter counts ---------------------------------------------------


def _deflate(path: Path) -> None:
    """Keras stores its zip members uncompressed; the same members, byte for byte, deflated
    (zeroed weights then take a few KB instead of 5 MB for the CIFAR-10 CNN)."""
    with zipfile.ZipFile(path) as zin:
        members = [(info.filename, zin.read(info)) for info in zin.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for name, data in members:
            zout.writestr(name, data)


def course_models() -> None:
    """reference.nets' Keras models built in Keras, weights zeroed (the count does not depend
    on them), the zip deflated (`_deflate`), for the parameter-count test."""

    def conv(f: int, k: int, s: int = 1, **kw: Any) -> Any:
        return L.Conv2D(f, k, strides=s, padding="same", activation="relu", **kw)

    cf = {"data_format": "channels_first"}
    specs: dict[str, tuple[tuple[int, ...], list[Any]]] = {
        "mnist_logreg": ((784,), [L.Dense(10, activation="softmax")]),
        "mnist_mlp_50": (
            (784,),
            [L.Dense(50, activation="relu"), L.Dense(10, activation="softmax")],
        ),
        "mnist_mlp_500x2": (
            (784,),
            [L.Dense(500, activation="relu"), L.Dense(500, activation="relu"), L.Dense(10)],
        ),
        "mnist_mlp_512x3": (
            (784,),
            [x for _ in range(3) for x in (L.Dense(512, activation="relu"), L.Dropout(0.2))]
            + [L.Dense(10)],
        ),
        "mnist_cnn_shallow": (
            (1, 28, 28),
            [conv(10, 5, 2, **cf), L.Flatten(**cf), L.Dense(50, activation="relu"), L.Dense(10)],
        ),
        "mnist_cnn_deep": (
            (1, 28, 28),
            [
                conv(10, 5, 2, **cf),
                conv(40, 5, 2, **cf),
                conv(80, 5, 1, **cf),
                L.Dropout(0.5),
                L.Flatten(**cf),
                L.Dense(50, activation="relu"),
                L.Dropout(0.5),
                L.Dense(10),
            ],
        ),
        "mnist_lenet_small": (
            (28, 28, 1),
            [
                L.Conv2D(10, 3, activation="relu"),
                L.MaxPooling2D(),
                L.Conv2D(5, 3, activation="relu"),
                L.MaxPooling2D(),
                L.Flatten(),
                L.Dense(64, activation="relu"),
                L.Dense(10),
            ],
        ),
        "cifar10_cnn_bn": (
            (32, 32, 3),
            [
                *[
                    x
                    for f, p in ((32, 0.2), (64, 0.3), (128, 0.4))
                    for x in (
                        conv(f, 3),
                        L.BatchNormalization(),
                        conv(f, 3),
                        L.BatchNormalization(),
                        L.MaxPooling2D(),
                        L.Dropout(p),
                    )
                ],
                L.Flatten(),
                L.Dense(512, activation="relu"),
                L.BatchNormalization(),
                L.Dropout(0.5),
                L.Dense(10),
            ],
        ),
        "cifar10_logreg": ((3072,), [L.Dense(10, activation="softmax")]),
    }
    course: dict[str, int] = {}
    for name, (shape, layers) in specs.items():
        model = keras.Sequential([keras.Input(shape), *layers])
        model.set_weights([np.zeros_like(w) for w in model.get_weights()])
        path = OUT / "course" / f"{name}.keras"
        path.parent.mkdir(exist_ok=True)
        model.save(path)
        _deflate(path)
        course[name] = int(model.count_params())
    (OUT / "course" / "params.json").write_text(json.dumps(course, indent=1) + "\n")


# ---- files Podium refuses (each says why) ----------------------------------------------------


@keras.saving.register_keras_serializable(package="Course")
class Scale(L.Layer):
    def call(self, x: Any) -> Any:
        return x * 2.0


@keras.saving.register_keras_serializable(package="Course")
class TinyNet(keras.Model):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.fc = L.Dense(10)

    def call(self, x: Any) -> Any:
        return self.fc(x)


def refusals() -> None:
    keras.utils.set_random_seed(6)
    bad = OUT / "refused"
    bad.mkdir(exist_ok=True)
    flat = keras.Input((784,))
    keras.Model(flat, L.Dense(10)(L.Lambda(lambda t: t * 2.0)(flat))).save(bad / "lambda.keras")
    keras.Model(flat, L.Dense(10)(Scale()(flat))).save(bad / "custom_layer.keras")
    sub = TinyNet()
    sub(np.zeros((1, 784), np.float32))
    sub.save(bad / "subclassed.keras")
    a, b = keras.Input((784,)), keras.Input((784,))
    keras.Model([a, b], L.Dense(10)(L.Add()([a, b]))).save(bad / "two_inputs.keras")
    keras.Model(flat, [L.Dense(10)(flat), L.Dense(10)(flat)]).save(bad / "two_outputs.keras")
    seq = keras.Input((28, 28))
    keras.Model(seq, L.Dense(10)(L.LSTM(4)(seq))).save(bad / "lstm.keras")
    inner = keras.Sequential([L.Dense(5)], name="inner")
    keras.Sequential([keras.Input((784,)), inner, L.Dense(10)]).save(bad / "nested_weights.keras")
    plain = keras.Sequential([keras.Input((784,)), L.Dense(10)])
    plain.save_weights(bad / "weights_only.weights.h5")
    plain.save(bad / "plain.keras")
    with (
        zipfile.ZipFile(bad / "plain.keras") as zin,
        zipfile.ZipFile(bad / "zip_slip.keras", "w") as zout,
    ):
        for info in zin.infolist():
            zout.writestr(info, zin.read(info))
        zout.writestr(
            "../../evil.txt", b"outside the archive's root"
        )  # labelled: written by zipfile
    (bad / "plain.keras").unlink()
    (bad / "README.md").write_text(
        "Files Podium refuses, saved by real Keras "
        f"{keras.__version__} (reference/keras_fixtures/), except zip_slip.keras: "
        "a Keras zip with a member '../../evil.txt' added by Python's zipfile.\n"
    )
