"""Inverted dropout (lecture: "AlexNet (2012): Dropout", Srivastava et al. 2014).

The lecture states the original convention: during training keep every unit with
probability ``p`` (zero it with probability ``1 - p``); at test time multiply every
unit by ``p``. Both conventions give the test-time unit the training-time expectation::

    original:  E[train out] = p * x                       test out = p * x
    inverted:  E[train out] = p * x / p = x   (p = 1 - p_drop)   test out = x

Inverted dropout (used here and by torch) moves the scaling into training, so the
network at test time is the plain, unscaled one: ``dropout_forward(..., train=False)``
is the identity. The mode is always the ``train`` argument, never guessed.
"""
from __future__ import annotations

import numpy as np

from cnnlab.reference._checks import as_float_array, check_same_shape

__all__ = ["dropout_forward", "dropout_backward"]


def dropout_forward(x, p_drop: float, train: bool = True, rng: np.random.Generator | None = None):
    """Zero each entry of ``x`` with probability ``p_drop`` and scale survivors by
    ``1 / (1 - p_drop)``. Returns ``(out, cache)``.

    Shapes: ``x`` any shape; ``out`` and the mask in ``cache`` have the shape of ``x``
    (at test time, ``train=False``, ``out = x``).

    ``rng`` is a ``numpy.random.Generator`` (or a seed) for a reproducible mask;
    None draws a fresh one."""
    x = as_float_array("x", x)
    if not 0 <= p_drop < 1:
        raise ValueError(f"p_drop is the probability of dropping a unit and must be in [0, 1), "
                         f"got {p_drop}")
    if not train:
        return x, None
    rng = np.random.default_rng(rng)
    mask = (rng.random(x.shape) >= p_drop) / (1 - p_drop)   # 0 or 1/(1-p_drop)
    mask = mask.astype(x.dtype)
    return x * mask, mask


def dropout_backward(dout, cache):
    """``dx = dout * mask`` with the forward pass's mask (``dout`` itself at test time).

    Shapes: ``dout`` and ``dx`` have the shape of the forward input ``x``."""
    mask = cache
    dout = np.asarray(dout)
    if mask is None:
        return dout
    check_same_shape("dout", dout, mask.shape)
    return dout * mask
