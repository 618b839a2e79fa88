"""Convolution layer, forward and backward (lecture: "Convolution Layer", "A Closer Look
at Convolution", and the Conv Layer summary).

Shapes (NCHW, like torch)::

    x   (N, C, H, W)          input volume: N images of depth C = D1
    w   (K, C, FH, FW)        K filters of size FH x FW x C (usually FH = FW = F)
    b   (K,)                  one bias per filter
    out (N, K, H_out, W_out)  H_out = (H - FH + 2P)/S + 1, W_out likewise

    out[n, k, i, j] = b[k] + sum_{c, u, v} w[k, c, u, v] * xpad[n, c, i*S + u, j*S + v]

The sizes come from :func:`cnnlab.arith.conv_output_size`. With ``strict=True`` (the
default) a stride that does not tile the padded input is an error showing the
lecture's arithmetic, e.g. ``(7 - 3 + 2*0)/3 + 1 = 2.33 is not an integer``; with
``strict=False`` the size is floored as torch does.

Two forward passes compute the same numbers:

* :func:`conv_forward_naive` - the formula above as plain loops; read this one first.
* :func:`conv_forward` - "im2col": every receptive field becomes one column of a
  matrix ``cols`` of shape ``(C*FH*FW, H_out*W_out*N)`` (built from a strided view of
  the padded input, so the only cost is one copy), and the whole layer is the single
  matrix product ``w.reshape(K, -1) @ cols``.

The backward pass (lecture: "backpropagation ... need to sum over the gradients from
all spatial positions") reuses ``cols``::

    db = sum_{n,i,j} dout[n, :, i, j]
    dw = dout_mat @ cols.T                         dout_mat = dout as (K, H_out*W_out*N)
    dx = col2im(w_mat.T @ dout_mat)                each column adds back into its window

col2im adds the ``FH*FW`` shifted slices one offset at a time, so overlapping windows
(stride < F) accumulate correctly without the slow ``np.add.at``.

Memory layout (speed only; every shape above stays NCHW): the fast pass stores the
padded input batch-last, as ``(C, H, W, N)``, so that each run NumPy copies in im2col
and col2im is ``W_out*N`` numbers long rather than ``W_out`` (for LeNet's 10x10 maps
the per-run overhead would dominate). ``out`` is the ``(K, H_out, W_out, N)`` product
seen through a transposed view, shape ``(N, K, H_out, W_out)``, without a copy; the
other layers accept any memory layout.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnlab.arith import conv_output_shape
from cnnlab.reference._checks import as_float_array, check_same_shape

__all__ = ["conv_forward_naive", "conv_forward", "conv_backward", "ConvCache"]


class ConvCache(NamedTuple):
    """What :func:`conv_backward` needs: the input, the filters, the hyperparameters and
    (from :func:`conv_forward`) the im2col matrix; ``cols`` is None after the naive pass."""
    x: np.ndarray
    w: np.ndarray
    stride: int
    padding: int
    out_hw: tuple[int, int]
    cols: np.ndarray | None


def _check_conv_args(x, w, b, stride, padding, strict):
    x = as_float_array("x", x, 4, "(N, C, H, W)")
    w = as_float_array("w", w, 4, "(K, C, FH, FW)")
    b = as_float_array("b", b, 1, "(K,)")
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"w has {w.shape[1]} input channels (w.shape[1]) but x has "
                         f"{x.shape[1]} (x.shape[1]); they must be equal")
    if b.shape[0] != w.shape[0]:
        raise ValueError(f"b has {b.shape[0]} entries but there are {w.shape[0]} filters; "
                         f"use one bias per filter")
    out_hw = conv_output_shape(x.shape[2:], w.shape[2:], stride, padding, strict=strict)
    return x, w, b, out_hw


def _pad(x: np.ndarray, p: int) -> np.ndarray:
    """Zero-pad the two spatial axes by ``p`` on each side (NCHW in, NCHW out)."""
    if p == 0:
        return x
    n, c, h, w = x.shape
    xp = np.zeros((n, c, h + 2 * p, w + 2 * p), dtype=x.dtype)
    xp[:, :, p:p + h, p:p + w] = x
    return xp


def _pad_chwn(x: np.ndarray, p: int) -> np.ndarray:
    """``x (N, C, H, W)`` zero-padded by ``p``, stored as ``(C, H+2P, W+2P, N)``."""
    n, c, h, w = x.shape
    xp = np.zeros((c, h + 2 * p, w + 2 * p, n), dtype=x.dtype)
    xp[:, p:p + h, p:p + w, :] = x.transpose(1, 2, 3, 0)
    return xp


def _im2col(xp: np.ndarray, fh: int, fw: int, stride: int, out_hw) -> np.ndarray:
    """``(C*FH*FW, H_out*W_out*N)`` matrix from the padded input ``xp (C, H', W', N)``:
    column ``(i, j, n)`` is the receptive field of output ``(i, j)`` of image ``n``, rows
    ordered ``(c, u, v)`` like ``w.reshape(K, -1)``. The view is free; ``reshape`` copies."""
    c, _, _, n = xp.shape
    ho, wo = out_hw
    windows = sliding_window_view(xp, (fh, fw), axis=(1, 2))        # (C, H'', W'', N, FH, FW)
    windows = windows[:, :ho * stride:stride, :wo * stride:stride]
    return windows.transpose(0, 4, 5, 1, 2, 3).reshape(c * fh * fw, ho * wo * n)


def conv_forward_naive(x, w, b, stride: int = 1, padding: int = 0, *, strict: bool = True):
    """Convolution by the definition, four nested loops. Returns ``(out, cache)``.

    Shapes: ``x (N, C, H, W)``, ``w (K, C, FH, FW)``, ``b (K,)`` ->
    ``out (N, K, H_out, W_out)``, ``H_out = (H - FH + 2P)/S + 1`` (likewise ``W_out``;
    ``strict=False`` floors it).

    ``out[n, k, i, j] = b[k] + sum(w[k] * xpad[n, :, i*S:i*S+FH, j*S:j*S+FW])``"""
    x, w, b, (ho, wo) = _check_conv_args(x, w, b, stride, padding, strict)
    n_img, k_filters, (fh, fw) = x.shape[0], w.shape[0], w.shape[2:]
    xp = _pad(x, padding)
    out = np.zeros((n_img, k_filters, ho, wo), dtype=np.result_type(x, w))
    for n in range(n_img):
        for k in range(k_filters):
            for i in range(ho):
                for j in range(wo):
                    field = xp[n, :, i * stride:i * stride + fh, j * stride:j * stride + fw]
                    out[n, k, i, j] = np.sum(field * w[k]) + b[k]
    return out, ConvCache(x, w, stride, padding, (ho, wo), None)


def conv_forward(x, w, b, stride: int = 1, padding: int = 0, *, strict: bool = True):
    """Fast convolution: im2col from a strided view, then one matrix product.

    Shapes: ``x (N, C, H, W)``, ``w (K, C, FH, FW)``, ``b (K,)`` -> ``out (N, K, H_out, W_out)``,
    ``H_out = (H - FH + 2P)/S + 1`` (``strict=False`` floors it); the same numbers as
    :func:`conv_forward_naive`. ``out`` is stored batch-last (see the module docstring).
    Returns ``(out, cache)``."""
    x, w, b, (ho, wo) = _check_conv_args(x, w, b, stride, padding, strict)
    n_img, k_filters, (fh, fw) = x.shape[0], w.shape[0], w.shape[2:]
    cols = _im2col(_pad_chwn(x, padding), fh, fw, stride, (ho, wo))
    out = w.reshape(k_filters, -1) @ cols                           # (K, H_out*W_out*N)
    out += b[:, None]
    out = out.reshape(k_filters, ho, wo, n_img).transpose(3, 0, 1, 2)
    return out, ConvCache(x, w, stride, padding, (ho, wo), cols)


def conv_backward(dout, cache: ConvCache, *, input_grad: bool = True):
    """Gradients ``(dx, dw, db)`` of the loss with respect to ``x``, ``w`` and ``b``.

    Shapes: ``dout (N, K, H_out, W_out)`` (``dL/dout``) -> ``dx (N, C, H, W)``,
    ``dw (K, C, FH, FW)``, ``db (K,)``. ``cache`` comes from either forward pass.
    ``input_grad=False`` skips ``dx`` (returns None), as torch does for a network's
    input: the first layer never needs it."""
    x, w, stride, padding, (ho, wo), cols = cache
    n_img, c, h, wd = x.shape
    k_filters, _, fh, fw = w.shape
    dout = np.asarray(dout)
    check_same_shape("dout", dout, (n_img, k_filters, ho, wo))
    if cols is None:
        cols = _im2col(_pad_chwn(x, padding), fh, fw, stride, (ho, wo))
    dout_mat = dout.transpose(1, 2, 3, 0).reshape(k_filters, -1)    # (K, H_out*W_out*N)
    db = dout_mat.sum(axis=1)
    dw = (cols @ dout_mat.T).T.reshape(w.shape)       # = dout_mat @ cols.T, faster in this order
    if not input_grad:
        return None, dw, db
    dcols = (w.reshape(k_filters, -1).T @ dout_mat).reshape(c, fh, fw, ho, wo, n_img)
    dxp = np.zeros((c, h + 2 * padding, wd + 2 * padding, n_img), dtype=dcols.dtype)
    for u in range(fh):            # col2im: filter tap (u, v) touched xpad[:, :, i*S+u, j*S+v]
        for v in range(fw):
            dxp[:, u:u + stride * ho:stride, v:v + stride * wo:stride] += dcols[:, u, v]
    dxp = dxp.transpose(3, 0, 1, 2)
    return dxp[:, :, padding:padding + h, padding:padding + wd], dw, db
