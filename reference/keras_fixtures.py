"""Keras fixtures for the `.keras`/`.h5` converter (grader/keras), made by real Keras.

Run in the optional fixture environment (`make keras-fixtures`: keras 3, tf-keras, tensorflow-cpu);
the main environment never has TensorFlow or Keras. Writes tests/grader/keras_fixtures/:
- one small model file per format variant and layer group, saved by Keras itself;
- `expected.npz`: for each gradable fixture `<name>.x` (a fixed input batch) and `<name>.y` (what
  Keras predicts on it); `mnist.test_classes`, the class the MNIST model (mnist_*) predicts for
  each of the 10,000 bundled test images;
- `manifest.json`: for each file, who wrote it (the Keras version) or, for layouts that no
  installable Keras writes any more, which real file h5py rewrote and how; the layers it covers;
  Keras's parameter count; and, for the MNIST model, Keras's accuracy on the bundled test set.

Rewritten by h5py (labelled "rewritten" in the manifest), from files Keras wrote:
- Windows weight paths (`layers\\conv2d/vars/0`): group names as Keras on Windows joined them;
- TF-Keras 2.13/2.14 naming (`_layer_checkpoint_dependencies/<layer>/vars/0`);
- Keras 2.2.4 HDF5: Sequential config without an InputLayer, the input shape in the first
  layer's `batch_input_shape`, weight names `conv2d_1/kernel:0`, as keras 2.2.4's `save_model`
  stored them (keras/engine/saving.py, `save_weights_to_hdf5_group`).
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import h5py
import keras
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "grader" / "keras_fixtures"
L = keras.layers
MANIFEST: dict[str, dict[str, Any]] = {}
EXPECTED: dict[str, np.ndarray] = {}
RNG = np.random.default_rng(0)


def _mnist(split: str) -> tuple[np.ndarray, np.ndarray]:
    prefix = "train" if split == "train" else "t10k"
    d = ROOT / "data" / "mnist"
    with gzip.open(d / f"{prefix}-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)
    with gzip.open(d / f"{prefix}-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return x, y


def _record(name: str, model: Any, x: np.ndarray, *, origin: str, covers: list[str]) -> None:
    y = np.asarray(model.predict(x, verbose=0))
    assert np.isfinite(y).all(), f"{name}: Keras's outputs are not finite"
    EXPECTED[f"{name}.x"] = np.asarray(x, dtype=np.float32)
    EXPECTED[f"{name}.y"] = y.astype(np.float32)
    MANIFEST[name] = {
        "origin": origin,
        "covers": covers,
        "params": int(model.count_params()),
    }


def _save(model: Any, name: str) -> Path:
    path = OUT / name
    model.save(path)
    return path


def _perturb(model: Any) -> None:
    """Random weights everywhere (BatchNorm statistics too), so every parameter matters."""
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        new = [RNG.normal(0, 0.3, w.shape).astype(w.dtype) for w in ws]
        if type(layer).__name__ == "BatchNormalization":  # Keras 3's or TF-Keras's
            n = len(new)
            new[n - 1] = np.abs(new[n - 1]) + 0.5  # moving variance > 0
        layer.set_weights(new)


# ---- the MNIST model in every format variant -------------------------------------------------


def mnist_variants() -> None:
    keras.utils.set_random_seed(0)
    x_tr, y_tr = _mnist("train")
    x_te, y_te = _mnist("test")
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
        _save(model, name)
        _record(name, model, x, origin=k3, covers=covers)
        MANIFEST[name]["mnist_accuracy"] = accuracy
    MANIFEST["mnist_k3_legacy.h5"]["origin"] += " (legacy HDF5, model.save('.h5'))"
    shutil.copy(OUT / "mnist_k3_legacy.h5", OUT / "mnist_h5_named.keras")
    _record(
        "mnist_h5_named.keras",
        model,
        x,
        origin=f"real: Keras {keras.__version__} legacy HDF5, the same bytes named .keras",
        covers=covers,
    )
    _rewrite_weight_groups(
        "mnist_k3.keras", "mnist_windows.keras", lambda p: p.replace("layers/", "layers\\", 1)
    )
    _record(
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
    _record(
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
        _record(name, old, x, origin=origin, covers=covers)
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
    _perturb(model)
    xb = RNG.normal(0, 1, (8, 12, 12, 3)).astype(np.float32)
    covers = [
        "Functional (Keras 2 inbound_nodes)",
        "Add",
        "Concatenate",
        "BatchNormalization",
        "GlobalMaxPooling2D",
    ]
    model.save(OUT / "resnet_tfkeras.h5")
    _record(
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
    _record(
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
    _perturb(k)
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
    _record(
        "mnist_keras22.h5",
        k,
        x / 255,
        origin="rewritten by h5py: Keras 2.2.4 HDF5 layout (no InputLayer, batch_input_shape, "
        f"conv2d_1/kernel:0), weights and outputs from real Keras {keras.__version__}",
        covers=["Conv2D", "MaxPooling2D", "Flatten", "Dense", "no InputLayer"],
    )


# ---- layer coverage (Keras 3) -----------------------------------------------------------------


ACTIVATIONS = [
    "relu",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "swish",
    "silu",
    "sigmoid",
    "hard_sigmoid",
    "tanh",
    "softplus",
    "softsign",
    "softmax",
    "linear",
    "hard_silu",
    "log_softmax",
    "mish",
    "exponential",
]


def activations() -> None:
    keras.utils.set_random_seed(2)
    inp = keras.Input((12,))
    h = L.Dense(12)(inp)
    branches = [L.Dense(6, activation=a, name=f"dense_{a}")(h) for a in ACTIVATIONS]
    branches += [
        L.Activation("tanh")(h),
        L.ReLU()(h),
        L.ReLU(max_value=0.5, negative_slope=0.1)(h),
        L.LeakyReLU(negative_slope=0.25)(h),
        L.ELU(alpha=0.7)(h),
        L.Softmax()(h),
        L.PReLU()(h),
    ]
    out = L.Dense(10)(L.Concatenate()(branches))
    model = keras.Model(inp, out)
    _perturb(model)
    x = RNG.normal(0, 2, (16, 12)).astype(np.float32)
    _save(model, "activations.keras")
    _record(
        "activations.keras",
        model,
        x,
        origin=f"real: Keras {keras.__version__}",
        covers=[f"activation {a}" for a in ACTIVATIONS]
        + ["Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "PReLU", "Concatenate"],
    )


def convs() -> None:
    keras.utils.set_random_seed(3)
    inp = keras.Input((17, 17, 3))
    x = L.ZeroPadding2D(((1, 0), (0, 2)))(inp)
    x = L.Conv2D(5, 3, strides=2, padding="same", use_bias=False)(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    x = L.Conv2D(6, (3, 2), dilation_rate=2, padding="same", activation="elu")(x)
    x = L.BatchNormalization(axis=3, center=False)(x)
    x = L.Conv2D(6, 3, padding="same", groups=2, activation="gelu")(x)
    a = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)
    b = L.SeparableConv2D(12, 3, padding="same", depth_multiplier=1)(x)
    x = L.Add()([a, b])
    x = L.AveragePooling2D(3, strides=2, padding="same")(x)
    x = L.MaxPooling2D(2, strides=1, padding="same")(x)
    x = L.SpatialDropout2D(0.3)(x)
    g1 = L.GlobalAveragePooling2D()(x)
    g2 = L.GlobalMaxPooling2D()(x)
    f = L.Flatten()(L.Conv2D(4, 1, strides=2, padding="valid")(x))
    y = L.Concatenate()([g1, g2, f])
    y = L.LayerNormalization()(y)
    y = L.Dense(10, activation="softmax")(y)
    model = keras.Model(inp, y)
    _perturb(model)
    xb = RNG.normal(0, 1, (8, 17, 17, 3)).astype(np.float32)
    _save(model, "convs.keras")
    _record(
        "convs.keras",
        model,
        xb,
        origin=f"real: Keras {keras.__version__}",
        covers=[
            "ZeroPadding2D",
            "Conv2D same stride 2 (asymmetric), use_bias=False, dilation, non-square kernel, groups",
            "BatchNormalization axis -1 and [3], center=False",
            "DepthwiseConv2D",
            "SeparableConv2D",
            "Add",
            "AveragePooling2D same",
            "MaxPooling2D same stride 1",
            "SpatialDropout2D",
            "GlobalAveragePooling2D",
            "GlobalMaxPooling2D",
            "Concatenate",
            "LayerNormalization",
        ],
    )


def preprocessing() -> None:
    keras.utils.set_random_seed(4)
    norm = L.Normalization()
    sample = RNG.uniform(0, 255, (64, 20, 20, 3)).astype(np.float32)
    norm.adapt(sample)
    inp = keras.Input((20, 20, 3))
    x = norm(inp)
    x = L.RandomFlip()(x)
    x = L.RandomRotation(0.1)(x)
    x = L.RandomZoom(0.1)(x)
    x = L.RandomTranslation(0.1, 0.1)(x)
    a = L.Resizing(28, 26)(x)
    a = L.Resizing(13, 11, interpolation="nearest")(a)
    b = L.Resizing(13, 11, interpolation="nearest")(x)
    c = L.Resizing(13, 11)(x)
    x = L.Concatenate()([L.Subtract()([a, b]), L.Multiply()([a, c]), L.Average()([b, c])])
    x = L.Maximum()([x, L.Minimum()([x, L.Rescaling(0.5, offset=0.1)(x)])])
    x = L.Reshape((13 * 11, 9))(x)
    x = L.Dense(4)(x)
    x = L.Flatten()(x)
    x = L.Dense(10)(x)
    model = keras.Model(inp, x)
    for layer in model.layers:
        if isinstance(layer, L.Dense):
            layer.set_weights([RNG.normal(0, 0.2, w.shape) for w in layer.get_weights()])
    xb = RNG.uniform(0, 255, (8, 20, 20, 3)).astype(np.float32)
    _save(model, "preprocessing.keras")
    _record(
        "preprocessing.keras",
        model,
        xb,
        origin=f"real: Keras {keras.__version__}",
        covers=[
            "Normalization (adapted)",
            "RandomFlip",
            "RandomRotation",
            "RandomZoom",
            "RandomTranslation",
            "Resizing bilinear (up and down)",
            "Resizing nearest",
            "Subtract",
            "Multiply",
            "Average",
            "Maximum",
            "Minimum",
            "Rescaling with offset",
            "Reshape",
            "Dense on a 3-d tensor",
        ],
    )


def nested() -> None:
    """Augmentation and preprocessing blocks built as a Sequential and used as a layer, the way
    Keras' image-classification tutorials do, in a functional and in a Sequential model."""
    keras.utils.set_random_seed(7)
    augment = keras.Sequential(
        [L.RandomFlip("horizontal"), L.RandomRotation(0.1), L.RandomZoom(0.1)], name="augment"
    )
    prep = keras.Sequential([L.Rescaling(1 / 255), L.Resizing(24, 24)], name="prep")
    inp = keras.Input((28, 28, 1))
    x = prep(augment(inp))
    x = L.Conv2D(4, 3, activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, L.Dense(10)(x))
    _perturb(model)
    xb = RNG.uniform(0, 255, (8, 28, 28, 1)).astype(np.float32)
    _save(model, "nested_functional.keras")
    covers = ["Sequential nested as a layer (weightless blocks)", "Resizing bilinear"]
    _record(
        "nested_functional.keras",
        model,
        xb,
        origin=f"real: Keras {keras.__version__}",
        covers=covers,
    )
    seq = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.Sequential([L.RandomTranslation(0.1, 0.1), L.Rescaling(1 / 255)], name="block"),
            L.Flatten(),
            L.Dense(10, activation="softmax"),
        ]
    )
    _perturb(seq)
    _save(seq, "nested_sequential.keras")
    _record(
        "nested_sequential.keras", seq, xb, origin=f"real: Keras {keras.__version__}", covers=covers
    )


def input_shapes() -> None:
    """Inputs as the surveyed files declare them: (28, 28) without a channel axis, and (784,) with a
    fixed batch of 32."""
    keras.utils.set_random_seed(9)
    x = RNG.uniform(0, 1, (32, 28, 28)).astype(np.float32)
    hw = keras.Sequential([keras.Input((28, 28)), L.Flatten(), L.Dense(10)])
    _perturb(hw)
    _save(hw, "input_28x28.keras")
    _record(
        "input_28x28.keras",
        hw,
        x,
        origin=f"real: Keras {keras.__version__}",
        covers=["input (28, 28)"],
    )
    fixed = keras.Sequential(
        [keras.Input((784,), batch_size=32), L.Dense(10, activation="softmax")]
    )
    _perturb(fixed)
    _save(fixed, "fixed_batch.keras")
    _record(
        "fixed_batch.keras",
        fixed,
        x.reshape(32, 784),
        origin=f"real: Keras {keras.__version__}",
        covers=["input (784,) with a fixed batch of 32"],
    )


def channels_first() -> None:
    """The course's channels-first MNIST CNN (reference.nets.mnist_cnn_shallow)."""
    keras.utils.set_random_seed(5)
    model = keras.Sequential(
        [
            keras.Input((1, 28, 28)),
            L.Conv2D(
                10, 5, strides=2, padding="same", activation="relu", data_format="channels_first"
            ),
            L.MaxPooling2D(data_format="channels_first", padding="same"),
            L.BatchNormalization(axis=1),
            L.Flatten(data_format="channels_first"),
            L.Dense(50, activation="relu"),
            L.Dense(10),
        ]
    )
    _perturb(model)
    x = RNG.uniform(0, 1, (8, 1, 28, 28)).astype(np.float32)
    try:
        _save(model, "channels_first.keras")
        _record(
            "channels_first.keras",
            model,
            x,
            origin=f"real: Keras {keras.__version__}",
            covers=[
                "Conv2D channels_first",
                "MaxPooling2D channels_first",
                "BatchNormalization axis 1",
                "Flatten channels_first",
            ],
        )
    except Exception as e:  # TensorFlow on CPU may not run channels-first convolutions
        print(f"channels_first fixture skipped: {e}", file=sys.stderr)
        (OUT / "channels_first.keras").unlink(missing_ok=True)


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
        f"{keras.__version__} (reference/keras_fixtures.py), except zip_slip.keras: "
        "a Keras zip with a member '../../evil.txt' added by Python's zipfile.\n"
    )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory():
        mnist_variants()
        activations()
        convs()
        preprocessing()
        nested()
        input_shapes()
        channels_first()
        course_models()
        refusals()
    np.savez_compressed(OUT / "expected.npz", **EXPECTED)
    meta = {"keras": keras.__version__, "backend": keras.backend.backend(), "files": MANIFEST}
    (OUT / "manifest.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {len(MANIFEST)} fixtures to {OUT}")


if __name__ == "__main__":
    main()
