"""Gradient checking (lecture: "BP algorithm = Gradient Descent Method"; cs231n's
gradient checks): compare an analytic gradient with centred finite differences.

Centred differences have error ``O(h**2)``::

    df/dx_i  ~  (f(x + h e_i) - f(x - h e_i)) / (2h)

Use float64: in float32 the rounding error of ``f`` divided by ``2h`` swamps the
answer. A relative error below about ``1e-7`` means the gradient is right; around
``1e-2`` or more, it is wrong.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["numerical_gradient", "rel_error"]


def numerical_gradient(f: Callable[[np.ndarray], object], x: np.ndarray, h: float = 1e-5,
                       *, df: np.ndarray | None = None) -> np.ndarray:
    """Centred-difference gradient of ``f`` at ``x``: an array of the shape of ``x``,
    ``(f(x + h e_i) - f(x - h e_i)) / (2h)`` at entry ``i``.

    ``f(x)`` returns a scalar; or, when the upstream gradient ``df`` is given, an array
    ``y`` (``df`` of the shape of ``y``) and the result is the gradient of ``sum(y * df)``
    (how a layer is checked: ``df`` plays the role of ``dout``). ``x`` is perturbed in
    place, one entry at a time, and restored; ``f`` must read it afresh on every call."""
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError("x must be a float NumPy array that f reads (it is perturbed in place); "
                        f"got {type(x).__name__} {getattr(x, 'dtype', '')}")
    if h <= 0:
        raise ValueError(f"step h must be positive, got {h}")

    def scalar(value) -> float:
        return float(np.sum(np.asarray(value) * df)) if df is not None else float(value)

    grad = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + h
        plus = scalar(f(x))
        x[i] = original - h
        minus = scalar(f(x))
        x[i] = original
        grad[i] = (plus - minus) / (2 * h)
    return grad


def rel_error(a, b) -> float:
    """Largest elementwise relative error ``|a - b| / max(1e-8, |a| + |b|)``.

    Shapes: ``a`` and ``b`` arrays of one (broadcastable) shape -> a scalar."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare shapes {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))
