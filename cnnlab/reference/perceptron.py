"""Rosenblatt's perceptron and the Block-Novikoff bound (lecture: "The Perceptron
Algorithm", "Finite Stop of Perceptron for Separable Data" and its proof).

Labels are ``y_i`` in {-1, +1}. The proof augments every point and the weights::

    xhat = (x, R)        what = (w, b / R)        so  what . xhat = w . x + b

with ``R = max_i ||x_i||``, starts from ``what = 0`` and, on every mistake
``y_i what . xhat_i <= 0``, updates ``what <- what + lr * y_i xhat_i``. If a unit vector
``w_opt`` with offset ``|b_opt| <= R`` separates the data with geometric margin
``gamma = min_i y_i (w_opt . x_i + b_opt)``, the number of updates ``k`` obeys::

    k <= (2R / gamma)**2          (Theorem 1, eq. 24)

The slides write the mistake condition with ``< 0``; the proof needs ``<= 0`` (from
``what = 0`` nothing is ever strictly wrong), and that is what is implemented. The
learning rate only rescales every iterate (``what`` starts at 0), so it changes
neither the mistakes nor the bound.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from cnnlab.reference._checks import as_float_array

__all__ = ["perceptron_fit", "PerceptronResult", "radius", "geometric_margin",
           "novikoff_bound"]


class PerceptronResult(NamedTuple):
    """Separator ``sign(w . x + b)``, the number of updates, whether an epoch passed
    without a mistake, and how many epochs ran."""
    w: np.ndarray
    b: float
    updates: int
    converged: bool
    epochs: int


def _check_xy(X, y):
    X = as_float_array("X", X, 2, "(n, d)")
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), one label per row of X, got {y.shape}")
    if not np.all((y == 1) | (y == -1)):
        raise ValueError(f"labels must be -1 or +1, got values {np.unique(y)[:5]}; "
                         f"for 0/1 labels use 2*y - 1")
    return X, y


def radius(X) -> float:
    """``R = max_i ||x_i||``: the radius of the ball about the origin holding the data.

    Shapes: ``X (n, d)`` -> a float."""
    X = as_float_array("X", X, 2, "(n, d)")
    return float(np.max(np.linalg.norm(X, axis=1)))


def geometric_margin(X, y, w, b: float = 0.0) -> float:
    """``gamma = min_i y_i (w . x_i + b) / ||w||``: the geometric margin of ``(w, b)``, the
    smallest signed distance of a point to the line ``w . x + b = 0``. It equals the functional
    margin ``min_i y_i (w . x_i + b)`` once ``(w, b)`` is scaled so that ``||w|| = 1``, as the
    theorem assumes. Positive exactly when ``(w, b)`` separates the data.

    Shapes: ``X (n, d)``, ``y (n,)`` in {-1, +1}, ``w (d,)``, ``b`` a float -> a float."""
    X, y = _check_xy(X, y)
    w = np.asarray(w, dtype=np.float64)
    norm = np.linalg.norm(w)
    if w.shape != (X.shape[1],) or norm == 0:
        raise ValueError(f"w must be a nonzero vector of shape ({X.shape[1]},), got {w.shape} "
                         f"with norm {norm}")
    return float(np.min(y * (X @ w + b)) / norm)


def novikoff_bound(R: float, gamma: float) -> float:
    """The Block-Novikoff bound ``(2R / gamma)**2`` on the number of perceptron updates.

    Shapes: ``R`` and ``gamma`` scalars (:func:`radius`, :func:`geometric_margin`) -> a scalar."""
    if gamma <= 0:
        raise ValueError(f"the margin gamma must be positive (the data separable), got {gamma}")
    return (2 * R / gamma) ** 2


def perceptron_fit(X, y, max_epochs: int = 100, lr: float = 1.0) -> PerceptronResult:
    """Run the perceptron over ``X (n, d)`` in order, epoch after epoch, until an epoch
    makes no mistake (``converged=True``) or ``max_epochs`` have run.

    Shapes: ``X (n, d)``, ``y (n,)`` in {-1, +1} -> a :class:`PerceptronResult` with
    ``w (d,)`` and ``b`` a float (predict ``sign(X @ w + b)``, shape ``(n,)``)."""
    X, y = _check_xy(X, y)
    if lr <= 0:
        raise ValueError(f"learning rate lr must be positive, got {lr}")
    R = radius(X)
    if R == 0:
        raise ValueError("all points are at the origin: no hyperplane can separate them")
    X_hat = np.hstack([X, np.full((X.shape[0], 1), R)])
    w_hat = np.zeros(X_hat.shape[1])
    updates = 0
    for epoch in range(1, max_epochs + 1):
        mistakes = 0
        for x_i, y_i in zip(X_hat, y):
            if y_i * (w_hat @ x_i) <= 0:
                w_hat += lr * y_i * x_i
                mistakes += 1
        updates += mistakes
        if mistakes == 0:
            return PerceptronResult(w_hat[:-1], float(w_hat[-1] * R), updates, True, epoch)
    return PerceptronResult(w_hat[:-1], float(w_hat[-1] * R), updates, False, max_epochs)
