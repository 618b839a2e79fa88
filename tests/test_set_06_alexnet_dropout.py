"""Problem set 06 (dropout): the solution passes, the exercise fails, and the mistakes
students make lose points (each planted in the solution, in-process via tests.setlib)."""
from __future__ import annotations

import pytest

from tests.conftest import REPO
from tests.setlib import points_lost, run_cells

NAME = "06_alexnet_dropout.ipynb"
SOLUTION = REPO / "solutions" / NAME


MASK = "(rng.random(x.shape) < p) / p"
TEST_MODE = 'elif mode == "test":\n        out = x\n'

# (answer cell, text in the solution, the mistake, the test cell that must fail)
MISTAKES = {
    "inverted dropout without the 1/p scale": ("dropout_forward", MASK, "(rng.random(x.shape) < p) * 1.0",
                                               "test_dropout_forward"),
    "scaled by 1/(1 - p)": ("dropout_forward", MASK, "(rng.random(x.shape) < p) / (1 - p)",
                            "test_dropout_keep_probability"),
    "p taken as the drop probability": ("dropout_forward", MASK, "(rng.random(x.shape) >= p) / p",
                                        "test_dropout_keep_probability"),
    "dropout active in test mode": ("dropout_forward", TEST_MODE,
                                    TEST_MODE.replace("out = x", "out = x * (np.random.default_rng().random(x.shape) < p) / p"),
                                    "test_dropout_forward"),
    "inverted dropout multiplying by p at test time": ("dropout_forward", TEST_MODE,
                                                       TEST_MODE.replace("out = x", "out = p * x"),
                                                       "test_dropout_forward"),
    "seed ignored": ("dropout_forward", 'np.random.default_rng(dropout_param.get("seed"))', "np.random.default_rng()",
                     "test_dropout_forward"),
    "mask not applied in backward": ("dropout_backward", "dx = dout * mask", "dx = dout", "test_dropout_backward"),
    "backward without the 1/p": ("dropout_backward", "dx = dout * mask", "dx = dout * (mask > 0)",
                                 "test_dropout_backward"),
    "backward scaled by p": ("dropout_backward", "dx = dout * mask", 'dx = dout * mask * dropout_param["p"]',
                             "test_dropout_backward"),
    "lecture rule without the test-time factor p": ("lecture_dropout_forward", "out = p * x", "out = x",
                                                    "test_lecture_dropout_forward"),
    "lecture rule scaling in training": ("lecture_dropout_forward", "(rng.random(x.shape) < p).astype(x.dtype)",
                                         "(rng.random(x.shape) < p) / p", "test_lecture_dropout_forward"),
    "every draw with the same seed": ("train_mean", '"seed": seed + i', '"seed": seed', "test_expectations"),
    "mean of test-mode outputs": ("train_mean", '"mode": "train"', '"mode": "test"', "test_expectations"),
    "lecture convention sampled with inverted dropout": ("train_mean", '"lecture": lecture_dropout_forward',
                                                         '"lecture": dropout_forward', "test_expectations"),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_planted_mistake_loses_points(mistake):
    cell, old, new, failing_test = MISTAKES[mistake]
    errors = run_cells(SOLUTION, edits={cell: (old, new)})
    assert errors[failing_test] is not None, f"{mistake!r} passes {failing_test}: make the tests stronger"


def test_p_taken_as_the_drop_probability_costs_only_that_point():
    """A correct inverted dropout whose p drops units (torch's reading) keeps the computation's points."""
    edits = {"dropout_forward": (MASK, "(rng.random(x.shape) >= p) / (1 - p)")}
    assert points_lost(SOLUTION, run_cells(SOLUTION, edits=edits)) == {"test_dropout_keep_probability": 1.0}
