"""The lecture's synthetic data sets: points with a known margin for the perceptron
theorem (:func:`make_separable`) and Minsky and Papert's XOR (:func:`make_xor`)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SeparableData", "make_separable", "make_xor"]


@dataclass
class SeparableData:
    """Linearly separable points ``X (n, dim)``, labels ``y`` in {-1, +1}, the separator
    ``(w, b)`` with ``||w|| = 1``, its margin ``gamma = min_i y_i (w.x_i + b)`` and the
    radius ``R = max_i ||x_i||`` (the quantities of the Block-Novikoff theorem)."""
    X: np.ndarray
    y: np.ndarray
    w: np.ndarray
    b: float
    gamma: float
    R: float


def make_separable(n: int = 100, dim: int = 2, margin: float = 0.1, radius: float = 1.0,
                   rng: np.random.Generator | int | None = None) -> SeparableData:
    """Points drawn uniformly in the ball of ``radius``, kept only if ``|w.x + b| >= margin``
    for a random unit ``w`` and offset ``|b| <= radius / 2``; labelled ``sign(w.x + b)``,
    half of them on each side.

    The returned ``gamma`` is the realised margin (>= ``margin``).
    """
    if not 0 < margin < radius / 2:
        raise ValueError(f"margin must be in (0, radius/2) = (0, {radius / 2}), got {margin}")
    if n < 2 or dim < 1:
        raise ValueError(f"need n >= 2 points and dim >= 1, got n={n}, dim={dim}")
    rng = np.random.default_rng(rng)
    w = rng.normal(size=dim)
    w /= np.linalg.norm(w)
    b = float(rng.uniform(-radius / 2 + margin, radius / 2 - margin))
    n_pos = n // 2
    positives, negatives = [], []
    while sum(map(len, positives)) < n_pos or sum(map(len, negatives)) < n - n_pos:
        direction = rng.normal(size=(4 * n, dim))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        candidates = direction * radius * rng.uniform(size=(4 * n, 1)) ** (1.0 / dim)
        score = candidates @ w + b
        positives.append(candidates[score >= margin])
        negatives.append(candidates[score <= -margin])
    X = np.concatenate([np.concatenate(positives)[:n_pos], np.concatenate(negatives)[:n - n_pos]])
    X = X[rng.permutation(n)]
    y = np.where(X @ w + b > 0, 1, -1).astype(np.int64)
    gamma = float(np.min(y * (X @ w + b)))
    return SeparableData(X, y, w, b, gamma, float(np.max(np.linalg.norm(X, axis=1))))


def make_xor(n: int = 200, noise: float = 0.2, signed: bool = False,
             rng: np.random.Generator | int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """XOR: points near the corners (+-1, +-1), label 1 where the coordinates' signs differ.

    Returns ``X float64 (n, 2)`` and ``y int64 (n,)`` in {0, 1}, or in {-1, +1} if ``signed``.
    No line separates the classes (Minsky and Papert, 1969).
    """
    rng = np.random.default_rng(rng)
    corners = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]], dtype=np.float64)
    labels = np.array([0, 0, 1, 1], dtype=np.int64)
    which = np.arange(n) % 4
    X = corners[which] + noise * rng.normal(size=(n, 2))
    y = labels[which]
    return X, (2 * y - 1 if signed else y)
