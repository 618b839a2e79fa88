"""Experiments of lecture notebook 03 (lecture: "Convolutional Neural Networks: shift
invariances and locality", "A Closer Look at Convolution").

Shift equivariance. Translate an image by ``(dy, dx)`` pixels (rows down, columns right),
filling the uncovered border with zeros::

    shift(x, dy, dx)[..., i, j] = x[..., i - dy, j - dx]   where that index exists, else 0

For a convolution with stride 1 and no padding, shifting the input shifts the activation
map by the same amount::

    conv(shift(x, dy, dx)) == shift(conv(x), dy, dx)     on valid_region(shape, dy, dx)

``valid_region`` is every position of the shifted map that holds a value of the original
map (not the zero fill); only there is the equality exact.

Timing: :func:`best_time` is the minimum wall time of several calls, the usual way to time
a short computation (the minimum is the run least disturbed by other work on the machine).
"""
from __future__ import annotations

import time
from typing import Callable

import numpy as np

__all__ = ["shift", "valid_region", "best_time"]


def _check_shift(shape: tuple, dy: int, dx: int) -> tuple[int, int]:
    if len(shape) < 2:
        raise ValueError(f"need an array of images (..., H, W), got shape {shape}")
    for name, value in (("dy", dy), ("dx", dx)):
        if isinstance(value, bool) or not hasattr(value, "__index__"):
            raise TypeError(f"{name} must be an integer number of pixels, got {value!r}")
    h, w = shape[-2:]
    if abs(dy) >= h or abs(dx) >= w:
        raise ValueError(f"shift (dy={dy}, dx={dx}) moves a {h}x{w} image out of view; "
                         f"use |dy| < {h} and |dx| < {w}")
    return int(dy), int(dx)


def valid_region(shape: tuple, dy: int, dx: int) -> tuple:
    """Index ``(..., rows, cols)`` of the positions of ``shift(a, dy, dx)`` (``a`` of shape
    ``shape = (..., H, W)``) that hold values of ``a``, i.e. rows ``max(dy, 0) .. H + min(dy, 0)``
    and the same for columns."""
    dy, dx = _check_shift(tuple(shape), dy, dx)
    h, w = shape[-2:]
    return (Ellipsis, slice(max(dy, 0), h + min(dy, 0)), slice(max(dx, 0), w + min(dx, 0)))


def shift(images, dy: int, dx: int) -> np.ndarray:
    """Translate ``images (..., H, W)`` by ``dy`` rows down and ``dx`` columns right
    (negative: up / left), zero-filling the uncovered border; no wrap-around.

    Returns a new array of the same shape and dtype.
    """
    images = np.asarray(images)
    dy, dx = _check_shift(images.shape, dy, dx)
    h, w = images.shape[-2:]
    out = np.zeros_like(images)
    out[valid_region(images.shape, dy, dx)] = images[..., max(-dy, 0):h - max(dy, 0),
                                                     max(-dx, 0):w - max(dx, 0)]
    return out


def best_time(fn: Callable[[], object], repeat: int = 3) -> float:
    """Minimum wall time in seconds (``time.perf_counter``) of ``repeat`` calls of ``fn()``."""
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"repeat must be a positive integer, got {repeat!r}")
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
