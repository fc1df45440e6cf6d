"""The MNIST model in every format variant: Keras 3, legacy HDF5, TF-Keras, and the h5py
rewrites of layouts no installable Keras writes any more (Windows paths, TF-Keras 2.13 naming,
Keras 2.2 HDF5)."""

from __future__ import annotations

import io
import json
import shutil
import sys
import zipfile
from typing import Any

import h5py
import keras
import numpy as np

from reference.keras_fixtures.common import (
    EXPECTED,
    MANIFEST,
    OUT,
    RNG,
    L,
    mnist_data,
    perturb,
    record,
    save,
)


def mnist_variants() -> None:
    keras.utils.set_random_seed(0)
    x_tr, y_tr = mnist_data("train")
    x_te, y_te = mnist_data("test")
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            L.Rescaling(1 / 255),
            L.Conv2D(8, 3, activation="relu"),
            L.MaxPooling2D(),
            L.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
            L.Flatten(),
            L.Dropout(0.2),
            L.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    # the bundled training sample is 1,000 images: enough for a model well above chance
    model.fit(x_tr.astype("float32"), y_tr, epochs=20, batch_size=32, verbose=0)
    pred = np.asarray(model.predict(x_te.astype("float32"), batch_size=500, verbose=0))
    accuracy = float((pred.argmax(1) == y_te).mean())
    # the class Keras predicts for each bundled test image: what a grading must reproduce
    EXPECTED["mnist.test_classes"] = pred.argmax(1).astype(np.int16)
    x = x_te[:32].astype(np.float32)
    covers = ["InputLayer", "Rescaling", "Conv2D", "MaxPooling2D", "Flatten", "Dropout", "Dense"]
    k3 = f"real: Keras {keras.__version__}"
    for name in ("mnist_k3.keras", "mnist_k3_legacy.h5"):
        save(model, name)
        record(name, model, x, origin=k3, covers=covers)
        MANIFEST[name]["mnist_accuracy"] = accuracy
    MANIFEST["mnist_k3_legacy.h5"]["origin"] += " (legacy HDF5, model.save('.h5'))"
    shutil.copy(OUT / "mnist_k3_legacy.h5", OUT / "mnist_h5_named.keras")
    record(
        "mnist_h5_named.keras",
        model,
        x,
        origin=f"real: Keras {keras.__version__} legacy HDF5, the same bytes named .keras",
        covers=covers,
    )
    _rewrite_weight_groups(
        "mnist_k3.keras", "mnist_windows.keras", lambda p: p.replace("layers/", "layers\\", 1)
    )
    record(
        "mnist_windows.keras",
        model,
        x,
        origin="rewritten by h5py from mnist_k3.keras: weight groups named 'layers\\<layer>' as "
        "Keras saved them on Windows",
        covers=covers,
    )
    _rewrite_weight_groups(
        "mnist_k3.keras",
        "mnist_ckptdeps.keras",
        lambda p: p.replace("layers/", "_layer_checkpoint_dependencies/", 1),
    )
    record(
        "mnist_ckptdeps.keras",
        model,
        x,
        origin="rewritten by h5py from mnist_k3.keras: weight groups under "
        "'_layer_checkpoint_dependencies/' as TF-Keras 2.13/2.14 named them",
        covers=covers,
    )
    tf_keras_variants(model, x, accuracy, covers)


def _copy_tree(src: h5py.Group, dst: h5py.Group, rename: Any) -> None:
    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            dst.create_dataset(rename(name), data=obj[()])

    src.visititems(visit)


def _rewrite_weight_groups(src: str, dst: str, rename: Any) -> None:
    """Copy a Keras 3 zip, its weights file rewritten with the groups renamed."""
    with zipfile.ZipFile(OUT / src) as zin, zipfile.ZipFile(OUT / dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "model.weights.h5":
                buf = io.BytesIO()
                with h5py.File(io.BytesIO(data), "r") as fin, h5py.File(buf, "w") as fout:
                    _copy_tree(fin, fout, rename)
                data = buf.getvalue()
            zout.writestr(info, data)


def tf_keras_variants(model: Any, x: np.ndarray, accuracy: float, covers: list[str]) -> None:
    """The same architecture and weights saved by TF-Keras (Keras 2 API), `.keras` and `.h5`."""
    try:
        import tf_keras
    except ImportError:
        print("tf_keras not installed: TF-Keras fixtures skipped", file=sys.stderr)
        return
    tl = tf_keras.layers
    old = tf_keras.Sequential(
        [
            tl.InputLayer((28, 28, 1)),
            tl.Rescaling(1 / 255),
            tl.Conv2D(8, 3, activation="relu"),
            tl.MaxPooling2D(),
            tl.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
            tl.Flatten(),
            tl.Dropout(0.2),
            tl.Dense(10, activation="softmax"),
        ]
    )
    old.set_weights(model.get_weights())
    origin = f"real: TF-Keras {tf_keras.__version__}"
    for name in ("mnist_tfkeras.keras", "mnist_tfkeras.h5"):
        old.save(OUT / name)
        record(name, old, x, origin=origin, covers=covers)
        MANIFEST[name]["mnist_accuracy"] = accuracy
    tf_keras_functional(tf_keras)
    keras22(x, model)


def tf_keras_functional(tf_keras: Any) -> None:
    """A small ResNet-style functional model saved by TF-Keras (Keras 2 `inbound_nodes`), and the
    same file with the model class renamed `Model` and keras_version 2.2.4, as Keras 2.2 wrote
    functional models (rewritten by h5py, labelled)."""
    tl = tf_keras.layers
    tf_keras.utils.set_random_seed(8)
    inp = tl.Input((12, 12, 3))
    x = tl.Conv2D(4, 3, padding="same", activation="relu")(inp)
    y = tl.Conv2D(4, 3, padding="same")(x)
    y = tl.BatchNormalization()(y)
    x = tl.Activation("relu")(tl.Add()([x, y]))
    x = tl.Concatenate()([x, tl.AveragePooling2D(1)(x)])
    x = tl.GlobalMaxPooling2D()(x)
    out = tl.Dense(10, activation="softmax")(x)
    model = tf_keras.Model(inp, out)
    perturb(model)
    xb = RNG.normal(0, 1, (8, 12, 12, 3)).astype(np.float32)
    covers = [
        "Functional (Keras 2 inbound_nodes)",
        "Add",
        "Concatenate",
        "BatchNormalization",
        "GlobalMaxPooling2D",
    ]
    model.save(OUT / "resnet_tfkeras.h5")
    record(
        "resnet_tfkeras.h5",
        model,
        xb,
        origin=f"real: TF-Keras {tf_keras.__version__}",
        covers=covers,
    )
    shutil.copy(OUT / "resnet_tfkeras.h5", OUT / "resnet_keras22.h5")
    with h5py.File(OUT / "resnet_keras22.h5", "r+") as f:
        config = json.loads(f.attrs["model_config"])
        config["class_name"] = "Model"
        f.attrs["model_config"] = json.dumps(config).encode()
        f.attrs["keras_version"] = b"2.2.4"
    record(
        "resnet_keras22.h5",
        model,
        xb,
        origin="rewritten by h5py from resnet_tfkeras.h5: model class 'Model' and keras_version "
        "2.2.4, as Keras 2.2 saved functional models",
        covers=covers,
    )


def keras22(x: np.ndarray, model: Any) -> None:
    """A Keras 2.2.4 HDF5 file: no installable Keras writes one, so h5py writes the layout
    keras 2.2.4 stored (model_config, model_weights/<layer>/<layer>/kernel:0), with the weights
    and expected outputs of a real Keras model of the same architecture (no Rescaling: 2.2 had
    none, so the model is fed x / 255 by Keras here)."""
    keras.utils.set_random_seed(1)
    k = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            L.Conv2D(6, 5, strides=2, padding="same", activation="relu"),
            L.MaxPooling2D(),
            L.Flatten(),
            L.Dense(16, activation="relu"),
            L.Dense(10, activation="softmax"),
        ]
    )
    perturb(k)
    names = ["conv2d_1", "max_pooling2d_1", "flatten_1", "dense_1", "dense_2"]
    layers = [
        {
            "class_name": "Conv2D",
            "config": {
                "name": "conv2d_1",
                "trainable": True,
                "batch_input_shape": [None, 28, 28, 1],
                "dtype": "float32",
                "filters": 6,
                "kernel_size": [5, 5],
                "strides": [2, 2],
                "padding": "same",
                "data_format": "channels_last",
                "dilation_rate": [1, 1],
                "activation": "relu",
                "use_bias": True,
                "kernel_initializer": {"class_name": "VarianceScaling", "config": {}},
                "kernel_regularizer": None,
            },
        },
        {
            "class_name": "MaxPooling2D",
            "config": {
                "name": "max_pooling2d_1",
                "trainable": True,
                "pool_size": [2, 2],
                "padding": "valid",
                "strides": [2, 2],
                "data_format": "channels_last",
            },
        },
        {
            "class_name": "Flatten",
            "config": {"name": "flatten_1", "trainable": True, "data_format": "channels_last"},
        },
        {
            "class_name": "Dense",
            "config": {
                "name": "dense_1",
                "trainable": True,
                "units": 16,
                "activation": "relu",
                "use_bias": True,
            },
        },
        {
            "class_name": "Dense",
            "config": {
                "name": "dense_2",
                "trainable": True,
                "units": 10,
                "activation": "softmax",
                "use_bias": True,
            },
        },
    ]
    config = {"class_name": "Sequential", "config": {"name": "sequential_1", "layers": layers}}
    weights = [w for w in (layer.get_weights() for layer in k.layers)]
    path = OUT / "mnist_keras22.h5"
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.2.4"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(config).encode()
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = [n.encode() for n in names]
        g.attrs["backend"] = b"tensorflow"
        g.attrs["keras_version"] = b"2.2.4"
        for lname, ws in zip(names, weights, strict=True):
            lg = g.create_group(lname)
            wnames = [f"{lname}/{w}:0" for w in ("kernel", "bias")[: len(ws)]]
            lg.attrs["weight_names"] = [n.encode() for n in wnames]
            for wn, w in zip(wnames, ws, strict=True):
                lg.create_dataset(wn, data=w)
    record(
        "mnist_keras22.h5",
        k,
        x / 255,
        origin="rewritten by h5py: Keras 2.2.4 HDF5 layout (no InputLayer, batch_input_shape, "
        f"conv2d_1/kernel:0), weights and outputs from real Keras {keras.__version__}",
        covers=["Conv2D", "MaxPooling2D", "Flatten", "Dense", "no InputLayer"],
    )
