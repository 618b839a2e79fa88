"""Small arrays drawn as grids of numbers, for pictures of what a layer's forward or backward
pass does cell by cell (notebooks 03 and 04: which inputs one shared weight multiplies, where
max pooling sends a gradient).

Highlighted cells are filled *and* hatched, so the picture reads without colour too
(the course's rule, see :mod:`cnnlab.plotting`).
"""
from __future__ import annotations

import numpy as np

from cnnlab.plotting import OKABE_ITO

__all__ = ["draw_number_grid"]


def draw_number_grid(ax, values, title: str | None = None, highlight=None,
                     colour: str = OKABE_ITO["orange"], text=None, fontsize: int = 11):
    """Draw the 2-D array ``values (rows, cols)`` on ``ax`` as a grid with one number per cell
    (row 0 at the top, like an image), and return ``ax``.

    ``highlight``: optional boolean array of the same shape; those cells are filled with
    ``colour``, hatched and their text set in bold. ``text``: optional array of strings of the
    same shape that replaces the numbers (e.g. ``"8\\n+30"`` for a value and the gradient it
    receives).
    """
    values = np.asarray(values)
    if values.ndim != 2:
        raise ValueError(f"values must be a 2-D array (rows, cols), got shape {values.shape}")
    for name, extra in (("highlight", highlight), ("text", text)):
        if extra is not None and np.shape(extra) != values.shape:
            raise ValueError(f"{name} must have the shape of values {values.shape}, got {np.shape(extra)}")
    lit = np.zeros(values.shape, dtype=bool) if highlight is None else np.asarray(highlight, dtype=bool)
    rows, cols = values.shape
    ax.set(xlim=(-0.5, cols - 0.5), ylim=(rows - 0.5, -0.5), aspect="equal",
           xticks=range(cols), yticks=range(rows))
    ax.grid(False)
    for r in range(rows):
        for c in range(cols):
            ax.add_patch(_cell(r, c, lit[r, c], colour))
            label = f"{values[r, c]:g}" if text is None else str(text[r][c])
            ax.text(c, r, label, ha="center", va="center", fontsize=fontsize,
                    fontweight="bold" if lit[r, c] else "normal")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def _cell(r: int, c: int, lit: bool, colour: str):
    from matplotlib.patches import Rectangle

    return Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor=colour if lit else "white",
                     alpha=0.5 if lit else 1.0, hatch="//" if lit else None, edgecolor="grey")
