"""Problem set 01 (perceptron): the solution passes, the exercise fails, and the mistakes
students make lose points (each planted in the solution, in-process via tests.setlib)."""
from __future__ import annotations

import pytest

from tests.conftest import REPO
from tests.setlib import run_cells

NAME = "01_perceptron.ipynb"
SOLUTION = REPO / "solutions" / NAME


# (answer cell, text in the solution, the mistake, the test cell that must fail)
MISTAKES = {
    "margin not divided by ||w||": ("radius_and_margin", " / np.linalg.norm(w)", "", "test_radius_and_margin"),
    "margin without the offset b": ("radius_and_margin", "X @ w + b", "X @ w", "test_radius_and_margin"),
    "margin as the largest distance": ("radius_and_margin", "np.min(y", "np.max(y", "test_radius_and_margin"),
    "radius as the largest coordinate": ("radius_and_margin", "np.max(np.linalg.norm(X, axis=1))", "np.max(np.abs(X))",
                                         "test_radius_and_margin"),
    "update only on strict mistakes (< 0)": ("perceptron_fit", "<= 0", "< 0", "test_perceptron_fit"),
    "update on correctly classified points": ("perceptron_fit", "<= 0", "> 0", "test_perceptron_fit"),
    "update with the wrong sign": ("perceptron_fit", "w_hat += y_i * x_i", "w_hat -= y_i * x_i", "test_perceptron_fit"),
    "extra coordinate 1 instead of R": ("perceptron_fit", "np.full((n, 1), R)", "np.ones((n, 1))", "test_perceptron_fit"),
    "bias not scaled back by R": ("perceptron_fit", "float(w_hat[d] * R)", "float(w_hat[d])", "test_perceptron_fit"),
    "counting epochs instead of updates": ("perceptron_fit", "updates += mistakes", "updates += 1",
                                           "test_perceptron_fit"),
    "one epoch too few": ("perceptron_fit", "range(max_epochs)", "range(max_epochs - 1)", "test_perceptron_fit"),
    "a point on the line counted as right": ("count_mistakes", "<= 0", "< 0", "test_xor"),
    "mistakes counted without b": ("count_mistakes", "X @ w + b", "X @ w", "test_xor"),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_planted_mistake_loses_points(mistake):
    cell, old, new, failing_test = MISTAKES[mistake]
    errors = run_cells(SOLUTION, edits={cell: (old, new)})
    assert errors[failing_test] is not None, f"{mistake!r} passes {failing_test}: make the tests stronger"
