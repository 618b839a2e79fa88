"""cnnlab.plotting.draw_number_grid: one text per cell, highlighted cells filled and hatched, clear errors."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from cnnlab.plotting import draw_number_grid


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def test_one_number_per_cell_row_zero_on_top(ax):
    values = np.arange(6).reshape(2, 3) - 2.5
    draw_number_grid(ax, values, title="t")
    texts = {(t.get_position()[1], t.get_position()[0]): t.get_text() for t in ax.texts}
    assert texts == {(r, c): f"{values[r, c]:g}" for r in range(2) for c in range(3)}
    assert ax.get_ylim() == (1.5, -0.5) and ax.get_title() == "t"


def test_highlight_fills_hatches_and_bolds_only_those_cells(ax):
    lit = np.array([[True, False], [False, True]])
    draw_number_grid(ax, np.ones((2, 2)), highlight=lit, text=[["a", "b"], ["c", "d"]])
    hatched = sorted((int(p.get_y() + 0.5), int(p.get_x() + 0.5)) for p in ax.patches if p.get_hatch())
    assert hatched == [(0, 0), (1, 1)]
    bold = sorted(t.get_text() for t in ax.texts if t.get_fontweight() == "bold")
    assert bold == ["a", "d"]


@pytest.mark.parametrize("values, extra, message", [
    (np.ones(3), {}, "2-D array"),
    (np.ones((2, 2)), {"highlight": np.ones((2, 3), dtype=bool)}, "highlight must have the shape"),
    (np.ones((2, 2)), {"text": [["a", "b"]]}, "text must have the shape"),
])
def test_bad_shapes_are_refused_with_the_shapes(ax, values, extra, message):
    with pytest.raises(ValueError, match=message):
        draw_number_grid(ax, values, **extra)
