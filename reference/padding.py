"""Keras/TensorFlow `padding="same"` arithmetic (pure Python, no torch needed).

TensorFlow pads "same" convolutions and pools asymmetrically: the output size is ceil(in / s),
the total padding is max((out - 1) * s + k - in, 0), the top/left side gets total // 2 and the
bottom/right side gets the rest. At stride 2 with an odd kernel on an even input this puts the
extra row/column at the bottom/right (28x28, k=5, s=2 -> (1, 2)), which a symmetric PyTorch
`padding=2` does not reproduce.
"""

from __future__ import annotations


def same_output_size(size: int, stride: int) -> int:
    """Output length of a Keras `padding="same"` layer along one axis: ceil(size / stride)."""
    if size < 1 or stride < 1:
        raise ValueError("size and stride must be positive")
    return -(-size // stride)


def same_pads_1d(size: int, kernel: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """(before, after) padding of a Keras/TF `padding="same"` layer along one axis."""
    if kernel < 1 or dilation < 1:
        raise ValueError("kernel and dilation must be positive")
    eff_k = (kernel - 1) * dilation + 1
    out = same_output_size(size, stride)
    total = max((out - 1) * stride + eff_k - size, 0)
    return total // 2, total - total // 2


def same_pads_2d(
    hw: tuple[int, int],
    kernel: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    dilation: int | tuple[int, int] = 1,
) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) padding of a Keras/TF 2-D `padding="same"` layer."""
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    top, bottom = same_pads_1d(hw[0], kh, sh, dh)
    left, right = same_pads_1d(hw[1], kw, sw, dw)
    return top, bottom, left, right


def valid_output_size(size: int, kernel: int, stride: int = 1) -> int:
    """Output length of a Keras `padding="valid"` layer along one axis."""
    return (size - kernel) // stride + 1
