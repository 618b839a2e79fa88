"""Max and average pooling, forward and backward (lecture: "Max Pooling").

Shapes (NCHW)::

    x   (N, C, H, W)
    out (N, C, H_out, W_out)   H_out = (H - size)/stride + 1   (cnnlab.arith.pool_output_size)

    max:  out[n, c, i, j] = max_{u, v < size} x[n, c, i*S + u, j*S + v]
    avg:  out[n, c, i, j] = mean_{u, v < size} x[n, c, i*S + u, j*S + v]

Every depth slice is pooled on its own; there is nothing to learn.

Both passes loop over the ``size*size`` offsets ``(u, v)`` of a window, each step a
whole-array operation on the strided slice ``x[:, :, u::S, v::S]``. That makes the
code correct for **overlapping** windows (``stride < size``, e.g. AlexNet's 3x3
stride-2 pooling): an input that lies in several windows collects the gradient of
each of them.

Tie rule: when a window holds its maximum more than once, the whole gradient goes to
the **first** maximum in row-major order (smallest ``u``, then smallest ``v``), which
is what ``torch.nn.functional.max_pool2d`` does on the CPU. Any split of the gradient
among tied entries is a valid subgradient; this one matches torch exactly.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from cnnlab.arith import pool_output_size
from cnnlab.reference._checks import as_float_array, check_same_shape

__all__ = ["maxpool_forward", "maxpool_backward", "avgpool_forward", "avgpool_backward",
           "PoolCache"]


class PoolCache(NamedTuple):
    """Input, output and hyperparameters of a pooling layer."""
    x: np.ndarray
    out: np.ndarray
    size: int
    stride: int


def _prepare(x, size, stride, strict):
    x = as_float_array("x", x, 4, "(N, C, H, W)")
    stride = size if stride is None else stride
    out_hw = (pool_output_size(x.shape[2], size, stride, strict=strict),
              pool_output_size(x.shape[3], size, stride, strict=strict))
    return x, stride, out_hw


def _offset_slice(u: int, v: int, stride: int, out_hw) -> tuple[slice, ...]:
    """Index of the inputs that offset ``(u, v)`` contributes to all windows."""
    ho, wo = out_hw
    return (slice(None), slice(None), slice(u, u + stride * ho, stride),
            slice(v, v + stride * wo, stride))


def _checked_dout(dout, cache: PoolCache) -> np.ndarray:
    """``dout`` as an array; ``ValueError`` unless it has the forward output's shape."""
    dout = np.asarray(dout)
    check_same_shape("dout", dout, cache.out.shape)
    return dout


def maxpool_forward(x, size: int = 2, stride: int | None = None, *, strict: bool = True):
    """Max pooling with ``size x size`` windows; ``stride`` defaults to ``size``.

    Shapes: ``x (N, C, H, W)`` -> ``out (N, C, H_out, W_out)``, ``H_out = (H - size)/stride + 1``
    (likewise ``W_out``). Returns ``(out, cache)``. ``strict=False`` floors sizes that do
    not fit, like torch."""
    x, stride, out_hw = _prepare(x, size, stride, strict)
    out = None
    for u in range(size):
        for v in range(size):
            part = x[_offset_slice(u, v, stride, out_hw)]
            out = part.copy(order="K") if out is None else np.maximum(out, part, out=out)
    return out, PoolCache(x, out, size, stride)


def maxpool_backward(dout, cache: PoolCache):
    """``dx``: each window's gradient goes to its first maximum (see the tie rule above).

    Shapes: ``dout (N, C, H_out, W_out)`` -> ``dx (N, C, H, W)``, the shape of the forward ``x``."""
    x, out, size, stride = cache
    dout = _checked_dout(dout, cache)
    dx = np.zeros_like(x, dtype=np.result_type(x, dout))
    routed = np.zeros(out.shape, dtype=bool)         # window already gave its gradient away
    for u in range(size):
        for v in range(size):
            index = _offset_slice(u, v, stride, out.shape[2:])
            first = x[index] == out                      # offset (u, v) holds the max ...
            first &= ~routed                             # ... and no earlier offset did
            routed |= first
            dx[index] += dout * first
    return dx


def avgpool_forward(x, size: int = 2, stride: int | None = None, *, strict: bool = True):
    """Average pooling with ``size x size`` windows; returns ``(out, cache)``.

    Shapes: ``x (N, C, H, W)`` -> ``out (N, C, H_out, W_out)``, ``H_out = (H - size)/stride + 1``
    (``stride`` defaults to ``size``; ``strict=False`` floors sizes that do not fit)."""
    x, stride, out_hw = _prepare(x, size, stride, strict)
    out = sum(x[_offset_slice(u, v, stride, out_hw)] for u in range(size) for v in range(size))
    out = out / (size * size)
    return out, PoolCache(x, out, size, stride)


def avgpool_backward(dout, cache: PoolCache):
    """``dx``: every input of a window receives ``dout / size**2`` from that window.

    Shapes: ``dout (N, C, H_out, W_out)``, as the forward output -> ``dx (N, C, H, W)``, as ``x``."""
    x, out, size, stride = cache
    share = _checked_dout(dout, cache) / (size * size)
    dx = np.zeros_like(x, dtype=share.dtype)
    for u in range(size):
        for v in range(size):
            dx[_offset_slice(u, v, stride, out.shape[2:])] += share
    return dx
