"""Checks of the PyTorch side (skipped where torch is not installed, e.g. the main venv)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from reference.augment import augment  # noqa: E402
from reference.nets import SPECS, SameConv2d, build, count_macs, count_params  # noqa: E402


@pytest.mark.parametrize("name", sorted(SPECS))
def test_keras_param_counts(name: str) -> None:
    spec = SPECS[name]
    model = build(name)
    assert count_params(model) == (spec.params, spec.trainable_params)
    out = model.eval()(torch.zeros(spec.input_shape(2)))
    assert out.shape == (2, 10)
    assert count_macs(model, spec.input_shape()) > 0


def test_same_conv_matches_explicit_tf_padding() -> None:
    conv = SameConv2d(1, 3, 5, 2, (28, 28))
    x = torch.randn(2, 1, 28, 28)
    padded = torch.nn.functional.pad(x, (1, 2, 1, 2))  # TF: top/left 1, bottom/right 2
    ref = torch.nn.functional.conv2d(padded, conv.conv.weight, conv.conv.bias, stride=2)
    torch.testing.assert_close(conv(x), ref)
    assert conv(x).shape[-2:] == (14, 14)
    sym = torch.nn.functional.conv2d(x, conv.conv.weight, conv.conv.bias, stride=2, padding=2)
    assert not torch.allclose(conv(x), sym)


def test_flatten_is_hwc() -> None:
    from reference.nets import FlattenHWC

    x = torch.arange(2 * 3 * 2 * 2.0).view(2, 3, 2, 2)  # NCHW
    expected = x.permute(0, 2, 3, 1).reshape(2, -1)
    assert expected[0, :3].tolist() == [0.0, 4.0, 8.0]  # pixel (0, 0), channels 0..2
    torch.testing.assert_close(FlattenHWC()(x), expected)


def test_augment_identity_and_integer_shift() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 8, 8)
    assert torch.equal(augment(x, gen, None), x)
    y = augment(
        x, gen, {"shift": 0.25, "integer_shift": True, "hflip": True, "padding_mode": "zeros"}
    )
    # integer shifts and flips only move pixels: every output value is an input value or 0
    vals = set(np.round(x.numpy().ravel(), 6)) | {0.0}
    assert set(np.round(y.numpy().ravel(), 6)) <= vals
    z = augment(x, gen, {"rotation": 10, "shift": 0.1, "shear": 10, "zoom": 0.1, "noise": 0.1})
    assert z.shape == x.shape and float(z.min()) >= 0 and float(z.max()) <= 1
