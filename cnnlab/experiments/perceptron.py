"""Experiments of lecture notebook 01 (lecture: "The Perceptron Algorithm", "Finite Stop of
Perceptron for Separable Data" and its proof, "Locality or Sparsity of Computation").

:func:`perceptron_trace` runs the same perceptron as
:func:`cnnlab.reference.perceptron_fit` (augmented ``xhat = (x, R)``, ``what = (w, b/R)``,
update ``what <- what + y_i xhat_i`` whenever ``y_i what . xhat_i <= 0``) but keeps every
iterate ``what_0 = 0, what_1, ..., what_k`` and the mistakes of every epoch, so the two
inequalities of the Block-Novikoff proof can be checked at each update::

    ||what_k||^2 <= 2 k R^2                      (eq. 17: the norm grows slowly)
    what_opt . what_k >= k gamma                 (eq. 20: the projection grows fast)

with ``what_opt = (w_opt, b_opt / R)``, ``||w_opt|| = 1``.

:func:`novikoff_experiment` measures the number of updates ``k`` on many separable data
sets (:func:`cnnlab.data.make_separable`) against the bound ``(2R / gamma)^2``.

:func:`plot_decision_regions` shades the plane by a 2-D classifier's prediction (used for
the perceptron on XOR here and the MLP of notebook 02).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from cnnlab.data import make_separable
from cnnlab.reference import novikoff_bound, perceptron_fit, radius

__all__ = ["PerceptronTrace", "perceptron_trace", "augment", "novikoff_experiment",
           "plot_decision_regions"]


def augment(X, R: float) -> np.ndarray:
    """The proof's augmentation ``xhat_i = (x_i, R)``: ``(n, d)`` -> ``(n, d + 1)``."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n, d), got shape {X.shape}")
    return np.hstack([X, np.full((len(X), 1), float(R))])


@dataclass
class PerceptronTrace:
    """Every augmented iterate ``w_hats (k + 1, d + 1)`` (row 0 is the start, 0), the
    number of mistakes in each epoch, the radius ``R`` and whether the last epoch was clean."""
    w_hats: np.ndarray
    mistakes_per_epoch: list
    R: float
    converged: bool

    @property
    def updates(self) -> int:
        """``k``, the number of updates made."""
        return len(self.w_hats) - 1


def perceptron_trace(X, y, max_epochs: int = 100) -> PerceptronTrace:
    """Run the perceptron (learning rate 1, points in order) on ``X (n, d)``, labels ``y``
    in {-1, +1}, recording every iterate; stops after a clean epoch or ``max_epochs``."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or y.shape != (len(X),) or not np.all(np.abs(y) == 1):
        raise ValueError(f"need X (n, d) and labels y (n,) in {{-1, +1}}, got X {X.shape}, "
                         f"y {y.shape} with values {np.unique(y)[:5]}")
    R = radius(X)
    X_hat = augment(X, R)
    w_hat = np.zeros(X_hat.shape[1])
    iterates, per_epoch = [w_hat.copy()], []
    for _ in range(max_epochs):
        mistakes = 0
        for x_i, y_i in zip(X_hat, y):
            if y_i * (w_hat @ x_i) <= 0:
                w_hat = w_hat + y_i * x_i
                iterates.append(w_hat)
                mistakes += 1
        per_epoch.append(mistakes)
        if mistakes == 0:
            break
    return PerceptronTrace(np.array(iterates), per_epoch, R, per_epoch[-1] == 0)


def novikoff_experiment(margins: Sequence[float], radii: Sequence[float], dims: Sequence[int] = (2,),
                        seeds: Sequence[int] = (0,), n: int = 200, max_epochs: int = 10_000) -> dict:
    """Fit the perceptron on ``make_separable(n, dim, margin * R, R)`` for every relative
    margin, radius ``R``, dimension and seed.

    ``margins`` are relative to the radius (each in ``(0, 1/2)``), so that the same
    relative margin can be compared across radii. Each setting and seed draws its own
    data set (seeded by ``[seed, dim index, radius index, margin index]``). Returns a dict of 1-D arrays, one entry
    per run: ``"R"``, ``"gamma"`` (the realised radius and margin), ``"bound"``
    (``(2R/gamma)^2``), ``"updates"``, ``"converged"``, ``"dim"``, ``"radius"`` (asked for)
    and ``"margin"`` (relative, asked for).
    """
    rows = []
    for i, dim in enumerate(dims):
        for j, R in enumerate(radii):
            for m, margin in enumerate(margins):
                for seed in seeds:   # a different data set for every setting, reproducibly
                    rng = np.random.default_rng([seed, i, j, m])
                    data = make_separable(n, dim=dim, margin=margin * R, radius=R, rng=rng)
                    result = perceptron_fit(data.X, data.y, max_epochs=max_epochs)
                    rows.append((data.R, data.gamma, novikoff_bound(data.R, data.gamma),
                                 result.updates, result.converged, dim, R, margin))
    names = ("R", "gamma", "bound", "updates", "converged", "dim", "radius", "margin")
    return {name: np.array(column) for name, column in zip(names, zip(*rows))}


def plot_decision_regions(ax, predict: Callable[[np.ndarray], np.ndarray], X, y, *,
                          resolution: int = 200, labels: Sequence[str] = ("class 0", "class 1"),
                          title: str | None = None):
    """Shade the plane by ``predict(points (m, 2)) -> labels (m,)`` (two classes, 0/1 or
    -1/+1) and draw the points ``X (n, 2)`` with a marker per class (circle / cross), so
    the picture reads without colour too. The legend, beside the axes, names both point
    markers, both shaded regions ("predicted <label>") and the boundary. Returns ``ax``."""
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from cnnlab.plotting import OKABE_ITO

    X, y = np.asarray(X), np.asarray(y)
    classes = np.unique(y)
    if X.ndim != 2 or X.shape[1] != 2 or len(classes) > 2:
        raise ValueError(f"need 2-D points X (n, 2) in at most two classes, got X {X.shape}, classes {classes}")
    pad = 0.5
    xs = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, resolution)
    ys = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, resolution)
    gx, gy = np.meshgrid(xs, ys)
    pred = np.asarray(predict(np.column_stack([gx.ravel(), gy.ravel()]))).reshape(gx.shape)
    high = (pred == classes.max()).astype(float)
    colours, region_alpha = [OKABE_ITO["sky_blue"], OKABE_ITO["orange"]], 0.35
    ax.contourf(gx, gy, high, levels=[-0.5, 0.5, 1.5], cmap=ListedColormap(colours), alpha=region_alpha)
    ax.contour(gx, gy, high, levels=[0.5], colors=OKABE_ITO["black"], linewidths=1.5)
    markers = [("o", OKABE_ITO["blue"]), ("x", OKABE_ITO["vermillion"])]
    points = [ax.scatter(X[y == cls, 0], X[y == cls, 1], marker=marker, color=colour, s=18, label=label)
              for (marker, colour), cls, label in zip(markers, (classes.min(), classes.max()), labels)]
    ax.set(xlabel="$x_1$", ylabel="$x_2$")
    if title:
        ax.set_title(title)
    regions = [Patch(facecolor=colour, alpha=region_alpha, label=f"predicted {label}")
               for colour, label in zip(colours, labels)]
    boundary = Line2D([], [], color=OKABE_ITO["black"], linewidth=1.5, label="decision boundary")
    ax.legend(handles=points + regions + [boundary], loc="upper left", bbox_to_anchor=(1.02, 1),
              framealpha=0.9, fontsize=8)
    return ax
