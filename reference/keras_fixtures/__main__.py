"""`python -m reference.keras_fixtures` (make keras-fixtures): writes every fixture."""

from __future__ import annotations

import json

import keras
import numpy as np

from reference.keras_fixtures.common import EXPECTED, MANIFEST, OUT
from reference.keras_fixtures.layers import (
    activations,
    channels_first,
    convs,
    input_shapes,
    nested,
    preprocessing,
)
from reference.keras_fixtures.others import course_models, refusals
from reference.keras_fixtures.variants import mnist_variants


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for make in (
        mnist_variants,
        activations,
        convs,
        preprocessing,
        nested,
        input_shapes,
        channels_first,
        course_models,
        refusals,
    ):
        make()
    np.savez_compressed(OUT / "expected.npz", **EXPECTED)
    meta = {"keras": keras.__version__, "backend": keras.backend.backend(), "files": MANIFEST}
    (OUT / "manifest.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {len(MANIFEST)} fixtures to {OUT}")


if __name__ == "__main__":
    main()
