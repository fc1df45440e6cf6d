"""Podium starter kit: a small CNN in Keras, saved as `.keras`.

    python keras_cnn.py --data train.npz [--epochs 5] [--out model.keras]

train.npz holds X (N, height, width, channels) uint8 pixels and y (N,) integer labels.
Inputs are pixel/255 (declare the `unit` preset when uploading). Needs keras (pip install keras).
"""

from __future__ import annotations

import argparse
import os

import keras
import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N images")
    # A fresh seed each run (printed): two students running the kit get two different models.
    parser.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(4), "little"))
    parser.add_argument("--out", default="model.keras")
    args = parser.parse_args()
    print(f"seed {args.seed}")

    data = np.load(args.data)
    images, labels = data["X"], data["y"].astype(np.int64)
    if images.ndim == 3:
        images = images[..., None]
    if args.limit:
        images, labels = images[: args.limit], labels[: args.limit]
    x = images.astype("float32") / 255.0  # NHWC in [0, 1]
    keras.utils.set_random_seed(args.seed)
    model = keras.Sequential(
        [
            keras.Input(shape=x.shape[1:]),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(int(labels.max()) + 1, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, labels, epochs=args.epochs, batch_size=64, verbose=2)
    model.save(args.out)
    print(f"saved {args.out}: upload it and declare preprocessing 'unit'")


if __name__ == "__main__":
    main()
