"""Fully connected layer, nonlinearities and the softmax loss (lecture: "Fully Connected
Layer", "BP Algorithm: Forward Pass" - sigmoid, tanh, ReLU - and "ReLU").

Every layer follows the cs231n convention: ``out, cache = X_forward(...)`` and
``dx, ... = X_backward(dout, cache)``, where ``dout`` is the gradient of the loss with
respect to ``out`` and the returned gradients have the shapes of the inputs.
"""
from __future__ import annotations

import numpy as np

from cnnlab.reference._checks import as_float_array, check_same_shape

__all__ = ["linear_forward", "linear_backward", "relu_forward", "relu_backward",
           "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward",
           "softmax_cross_entropy"]


def linear_forward(x, w, b):
    """Affine layer ``out = x @ w.T + b``, i.e. ``W x + b`` for every row ``x`` of the batch.

    Shapes: ``x (N, D_in)``, ``w (D_out, D_in)`` (as in torch and the slides' ``W x``),
    ``b (D_out,)``, ``out (N, D_out)``. A conv volume ``(N, C, H, W)`` is flattened to
    ``(N, C*H*W)`` first ("stretch to 3072 x 1" in the lecture).
    """
    x = as_float_array("x", x)
    w = as_float_array("w", w, 2, "(D_out, D_in)")
    b = as_float_array("b", b, 1, "(D_out,)")
    if x.ndim < 2:
        raise ValueError(f"x must be a batch (N, D_in), got shape {x.shape}; use x[None] for one example")
    flat = x.reshape(x.shape[0], -1)
    if flat.shape[1] != w.shape[1]:
        raise ValueError(f"x has {flat.shape[1]} features per example but w expects "
                         f"D_in = w.shape[1] = {w.shape[1]}")
    if b.shape[0] != w.shape[0]:
        raise ValueError(f"b has {b.shape[0]} entries but w has D_out = {w.shape[0]} rows")
    return flat @ w.T + b, (x, w)


def linear_backward(dout, cache):
    """``dx = dout @ w`` (reshaped like ``x``), ``dw = dout.T @ x``, ``db = dout.sum(0)``.

    Shapes: ``dout (N, D_out)`` -> ``dx`` like the forward ``x`` (``(N, D_in)``, or
    ``(N, C, H, W)`` when it was a volume), ``dw (D_out, D_in)``, ``db (D_out,)``."""
    x, w = cache
    dout = np.asarray(dout)
    check_same_shape("dout", dout, (x.shape[0], w.shape[0]))
    flat = x.reshape(x.shape[0], -1)
    return (dout @ w).reshape(x.shape), dout.T @ flat, dout.sum(axis=0)


def relu_forward(x):
    """``out = max(0, x)`` elementwise; the cache is the input.

    Shapes: ``out`` has the shape of ``x`` (any shape)."""
    x = as_float_array("x", x)
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    """``dx = dout * [x > 0]`` (the subgradient at 0 is taken as 0, like torch).

    Shapes: ``dout`` and ``dx`` have the shape of ``x``."""
    x = cache
    dout = np.asarray(dout)
    check_same_shape("dout", dout, x.shape)
    return dout * (x > 0)          # a product, not np.where: several times faster


def sigmoid_forward(x):
    """``out = 1 / (1 + exp(-x))``, evaluated without overflow for large ``|x|``.

    Shapes: ``out`` has the shape of ``x`` (any shape)."""
    x = as_float_array("x", x)
    e = np.exp(-np.abs(x))                      # in (0, 1]: never overflows
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out, out


def sigmoid_backward(dout, cache):
    """``dx = dout * s * (1 - s)`` with ``s`` the forward output.

    Shapes: ``dout`` and ``dx`` have the shape of ``x``."""
    s = cache
    check_same_shape("dout", np.asarray(dout), s.shape)
    return dout * s * (1 - s)


def tanh_forward(x):
    """``out = tanh(x)``.

    Shapes: ``out`` has the shape of ``x`` (any shape)."""
    x = as_float_array("x", x)
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    """``dx = dout * (1 - tanh(x)**2)``.

    Shapes: ``dout`` and ``dx`` have the shape of ``x``."""
    t = cache
    check_same_shape("dout", np.asarray(dout), t.shape)
    return dout * (1 - t * t)


def softmax_cross_entropy(scores, y):
    """Mean softmax cross-entropy loss and its gradient ``(loss, dscores)``.

    ``scores (N, K)`` are unnormalised class scores, ``y (N,)`` integer labels in
    ``[0, K)``. With ``p = softmax(scores)`` (computed after subtracting each row's
    maximum, so ``exp`` never overflows)::

        loss = -(1/N) sum_n log p[n, y_n]        dscores = (p - onehot(y)) / N
    """
    scores = as_float_array("scores", scores, 2, "(N, K)")
    y = np.asarray(y)
    if y.shape != (scores.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must be {scores.shape[0]} integer labels, shape ({scores.shape[0]},), "
                         f"got dtype {y.dtype} and shape {y.shape}")
    n, k = scores.shape
    if y.size and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"labels must lie in [0, {k}) for {k} classes, got range "
                         f"[{y.min()}, {y.max()}]")
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(n)
    loss = -log_p[rows, y].mean()
    dscores = np.exp(log_p)
    dscores[rows, y] -= 1
    return loss, dscores / n
