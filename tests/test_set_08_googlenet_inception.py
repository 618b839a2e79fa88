"""Problem set 08 (GoogLeNet, Inception): the solution passes every test cell, the untouched
exercise fails every one, and each counting mistake loses the points of its test cell."""
from pathlib import Path

import pytest

from tests.setlib import run_cells

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "08_googlenet_inception.ipynb"


PARAMS, MULT_ADDS = "inception_params", "inception_mult_adds"
NAIVE_MULT_ADDS = "return conv(1, c_in, c1) + conv(3, c_in, c3) + conv(5, c_in, c5)"

# mistake: (answer cell, (text in the solution, the mistake), test cells that must fail)
MISTAKES = {
    "1x1 reduction counted without its biases": (PARAMS, ("conv(1, c_in, c3r)", "c_in * c3r"), ["test_inception_params_reduced"]),
    "no biases at all": (PARAMS, ("f * f * d_in * k + k", "f * f * d_in * k"),
                         ["test_inception_params_reduced", "test_inception_params_naive"]),
    "pool projection forgotten": (PARAMS, (" + conv(1, c_in, pool_proj)", ""), ["test_inception_params_reduced"]),
    "naive module given a pool projection": (PARAMS, ("conv(5, c_in, c5)\n", "conv(5, c_in, c5) + conv(1, c_in, pool_proj)\n"),
                                             ["test_inception_params_naive"]),
    "naive 3x3 reads the reduced depth": (PARAMS, ("conv(3, c_in, c3)", "conv(3, c3r, c3)"), ["test_inception_params_naive"]),
    "multiply-adds not multiplied by the output size": (MULT_ADDS, ("h * w * k * f * f * d_in", "k * f * f * d_in"),
                                                       ["test_inception_mult_adds_reduced", "test_inception_mult_adds_naive"]),
    "multiply-adds counting the biases": (MULT_ADDS, ("h * w * k * f * f * d_in", "h * w * k * (f * f * d_in + 1)"),
                                          ["test_inception_mult_adds_reduced", "test_inception_mult_adds_naive"]),
    "output size of an unpadded convolution": (MULT_ADDS, ("h * w * k", "(h - f + 1) * (w - f + 1) * k"),
                                               ["test_inception_mult_adds_reduced", "test_inception_mult_adds_naive"]),
    "3x3 after the reduction reads the full input depth": (MULT_ADDS, ("conv(3, c3r, c3)", "conv(3, c_in, c3)"),
                                                           ["test_inception_mult_adds_reduced"]),
    "naive module charged for the reductions": (MULT_ADDS, (NAIVE_MULT_ADDS, NAIVE_MULT_ADDS + " + conv(1, c_in, c3r) + conv(1, c_in, c5r)"),
                                                ["test_inception_mult_adds_naive"]),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_mistake_loses_points(mistake):
    cell, edit, failing = MISTAKES[mistake]
    errors = run_cells(SOLUTION, edits={cell: edit})
    assert all(errors[name] is not None for name in failing), (mistake, errors)
