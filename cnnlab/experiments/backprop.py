"""Experiments of lecture notebook 02 (lecture: "BP Algorithm: Forward Pass", "Derivation of
BP: Lagrangian Multiplier", "back-propagation - derivation", "Long-Short-Term-Memory").

The slides' adjoints. With the loss ``sum_i ||x_i(L) - y_i||^2`` and the Lagrangian
``sum_i sum_l B_i(l)^T (x_i(l) - f_l(A_i(l)))``, setting the derivatives to zero gives::

    z_i(L) = 2 f_L'(A_i(L)) * (y_i - x_i(L))
    z_i(l) = f_l'(A_i(l)) * (W_{l+1}^T z_i(l+1))            l = L-1, ..., 1
    W_l <- W_l + lambda sum_i z_i(l) x_i(l-1)^T

:func:`lagrangian_adjoints` computes these ``z`` from a forward cache of
:func:`cnnlab.reference.mlp_forward`. They differ from the ``z`` inside
:func:`cnnlab.reference.mlp_backward` (the gradient of ``J = (1/n) sum_i 1/2 ||y_i - x_i(L)||^2``)
only by the factor ``-2n``, so ``sum_i z_i(l) x_i(l-1)^T = -2n dJ/dW_l``.

Vanishing gradients. :func:`layer_gradient_norms` measures ``||dJ/dW_l||`` (Frobenius)
for every layer of a freshly initialised deep MLP on random data: with sigmoid units
(``f' <= 1/4``) the norms shrink geometrically towards the input.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from cnnlab.reference import mlp_backward, mlp_forward, mlp_init
from cnnlab.reference.mlp import ACTIVATIONS

__all__ = ["lagrangian_adjoints", "layer_gradient_norms"]


def lagrangian_adjoints(layers, cache, y) -> list[np.ndarray]:
    """The slides' ``[z(1), ..., z(L)]``, each ``(n, d_l)``, for the cache ``(xs, As)`` of
    ``mlp_forward(layers, x0)`` and targets ``y`` of the shape of ``x_L``."""
    xs, As = cache
    y = np.asarray(y, dtype=np.float64).reshape(xs[-1].shape)
    derivative = [ACTIVATIONS[layer.f][1] for layer in layers]
    zs = [2 * derivative[-1](As[-1]) * (y - xs[-1])]                      # z(L)
    for l in range(len(layers) - 1, 0, -1):                               # z(l) from z(l+1)
        zs.append(derivative[l - 1](As[l - 1]) * (zs[-1] @ layers[l].W))  # rows: W^T z per example
    return zs[::-1]


def layer_gradient_norms(depth: int = 10, width: int = 32, activation: str = "sigmoid",
                         seeds: Sequence[int] = range(5), n: int = 64, d_in: int = 20) -> np.ndarray:
    """``||dJ/dW_l||`` for ``l = 1..depth`` (first layer first), one row per seed:
    an array ``(len(seeds), depth)``.

    Network: ``d_in -> width x (depth - 1) hidden layers of `activation` -> 1`` (identity
    output, so only the hidden non-linearity differs between runs), initialised by
    :func:`cnnlab.reference.mlp_init` (``W_l ~ N(0, 1/d_{l-1})``), on ``n`` standard normal
    inputs with standard normal targets.
    """
    if depth < 2:
        raise ValueError(f"depth must be at least 2 weight layers, got {depth}")
    rows = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        layers = mlp_init([d_in] + [width] * (depth - 1) + [1], activation, "identity", rng)
        x0, y = rng.normal(size=(n, d_in)), rng.normal(size=(n, 1))
        _, cache = mlp_forward(layers, x0)
        rows.append([np.linalg.norm(dW) for dW, _ in mlp_backward(layers, cache, y)])
    return np.array(rows)
