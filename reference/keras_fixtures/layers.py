"""Layer coverage: every supported layer and option, saved by Keras 3."""

from __future__ import annotations

import sys

import keras
import numpy as np

from reference.keras_fixtures.common import (
    OUT,
    RNG,
    L,
    perturb,
    record,
    save,
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
    perturb(model)
    x = RNG.normal(0, 2, (16, 12)).astype(np.float32)
    save(model, "activations.keras")
    record(
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
    perturb(model)
    xb = RNG.normal(0, 1, (8, 17, 17, 3)).astype(np.float32)
    save(model, "convs.keras")
    record(
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
    save(model, "preprocessing.keras")
    record(
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
    perturb(model)
    xb = RNG.uniform(0, 255, (8, 28, 28, 1)).astype(np.float32)
    save(model, "nested_functional.keras")
    covers = ["Sequential nested as a layer (weightless blocks)", "Resizing bilinear"]
    record(
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
    perturb(seq)
    save(seq, "nested_sequential.keras")
    record(
        "nested_sequential.keras", seq, xb, origin=f"real: Keras {keras.__version__}", covers=covers
    )


def input_shapes() -> None:
    """Inputs as the surveyed files declare them: (28, 28) without a channel axis, and (784,) with a
    fixed batch of 32."""
    keras.utils.set_random_seed(9)
    x = RNG.uniform(0, 1, (32, 28, 28)).astype(np.float32)
    hw = keras.Sequential([keras.Input((28, 28)), L.Flatten(), L.Dense(10)])
    perturb(hw)
    save(hw, "input_28x28.keras")
    record(
        "input_28x28.keras",
        hw,
        x,
        origin=f"real: Keras {keras.__version__}",
        covers=["input (28, 28)"],
    )
    fixed = keras.Sequential(
        [keras.Input((784,), batch_size=32), L.Dense(10, activation="softmax")]
    )
    perturb(fixed)
    save(fixed, "fixed_batch.keras")
    record(
        "fixed_batch.keras",
        fixed,
        x.reshape(32, 784),
        origin=f"real: Keras {keras.__version__}",
        covers=["input (784,) with a fixed batch of 32"],
    )
    built = keras.Sequential([L.Dense(16, activation="relu"), L.Dense(10)])
    built.build((None, 784))  # no Input: the shape is the Sequential's build_input_shape
    perturb(built)
    save(built, "built_no_input.keras")
    record(
        "built_no_input.keras",
        built,
        x.reshape(32, 784),
        origin=f"real: Keras {keras.__version__}",
        covers=["Sequential without an InputLayer, built with model.build"],
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
    perturb(model)
    x = RNG.uniform(0, 1, (8, 1, 28, 28)).astype(np.float32)
    try:
        save(model, "channels_first.keras")
        record(
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
