"""Problem set 02 (back-propagation): the solution passes, the exercise fails, and the
mistakes students make lose points (each planted in the solution, in-process via tests.setlib)."""
from __future__ import annotations

import pytest

from tests.conftest import REPO
from tests.setlib import points_lost, run_cells

NAME = "02_backprop.ipynb"
SOLUTION = REPO / "solutions" / NAME


ONE_SIDED = ("value[index] = original - h\n            minus = two_layer_loss(X, y, params, reg)[0]\n"
             "            value[index] = original\n            grad[index] = (plus - minus) / (2 * h)",
             "value[index] = original\n            minus = two_layer_loss(X, y, params, reg)[0]\n"
             "            grad[index] = (plus - minus) / h")

# (answer cell, text in the solution, the mistake, the test cell that must fail)
MISTAKES = {
    "affine forward without the bias": ("affine_forward", "@ w + b", "@ w", "test_affine_forward"),
    "affine forward with w transposed": ("affine_forward", "@ w + b", "@ w.T + b", "test_affine_forward"),
    "dx not reshaped to x's shape": ("affine_backward", "(dout @ w.T).reshape(x.shape)", "dout @ w.T",
                                     "test_affine_backward"),
    "db summed over the wrong axis": ("affine_backward", "dout.sum(axis=0)", "dout.sum(axis=1)", "test_affine_backward"),
    "db averaged instead of summed": ("affine_backward", "dout.sum(axis=0)", "dout.mean(axis=0)",
                                      "test_affine_backward"),
    "dw from the unflattened x": ("affine_backward", "x.reshape(x.shape[0], -1).T @ dout", "x.T @ dout",
                                  "test_affine_backward"),
    "dw transposed": ("affine_backward", "x.reshape(x.shape[0], -1).T @ dout", "dout.T @ x.reshape(x.shape[0], -1)",
                      "test_affine_backward"),
    "relu passes the gradient where x == 0": ("relu", "dout * (x > 0)", "dout * (x >= 0)",
                                              "test_relu_derivative_at_zero"),
    "relu backward clips dout instead of masking by x": ("relu", "dout * (x > 0)", "np.maximum(dout, 0)", "test_relu"),
    "relu backward multiplies by x": ("relu", "dout * (x > 0)", "dout * x", "test_relu"),
    "softmax loss not averaged over N": ("softmax_loss", ".sum() / N", ".sum()", "test_softmax_loss"),
    "softmax gradient not averaged over N": ("softmax_loss", "dx /= N", "pass", "test_softmax_loss"),
    "softmax without subtracting the maximum": ("softmax_loss", "x - x.max(axis=1, keepdims=True)", "x",
                                                "test_softmax_loss"),
    "softmax gradient without -1 at the label": ("softmax_loss", "dx[np.arange(N), y] -= 1", "pass",
                                                 "test_softmax_loss"),
    "biases regularised": ("two_layer_loss", '"b1": db1', '"b1": db1 + reg * params["b1"]', "test_two_layer_loss"),
    "regulariser missing from the gradient": ("two_layer_loss", 'dW1 + reg * params["W1"]', "dW1",
                                              "test_two_layer_loss"),
    "regulariser without the factor 1/2": ("two_layer_loss", "0.5 * reg", "reg", "test_two_layer_loss"),
    "backward skips the ReLU": ("two_layer_loss", "relu_backward(dactive, cache_relu)", "dactive",
                                "test_two_layer_loss"),
    "one-sided differences": ("numerical_gradients", *ONE_SIDED, "test_numerical_gradients"),
    "perturbed entry not put back": ("numerical_gradients",
                                     "            value[index] = original\n            grad[index]",
                                     "            grad[index]", "test_numerical_gradients"),
    "gradient ascent": ("train_two_layer", "params[name] -= lr", "params[name] += lr", "test_xor_solved"),
    "W1 initialised to zero": ("train_two_layer", "rng.normal(0, 1 / np.sqrt(D), size=(D, hidden_size))",
                               "np.zeros((D, hidden_size))", "test_xor_solved"),
}


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # the unshifted softmax
@pytest.mark.parametrize("mistake", MISTAKES)
def test_planted_mistake_loses_points(mistake):
    cell, old, new, failing_test = MISTAKES[mistake]
    errors = run_cells(SOLUTION, edits={cell: (old, new)})
    assert errors[failing_test] is not None, f"{mistake!r} passes {failing_test}: make the tests stronger"


def test_relus_derivative_at_0_taken_as_1_costs_only_that_point():
    edits = {"relu": ("dout * (x > 0)", "dout * (x >= 0)")}
    assert points_lost(SOLUTION, run_cells(SOLUTION, edits=edits)) == {"test_relu_derivative_at_zero": 1.0}


def test_an_affine_forward_bug_does_not_cost_the_backward_test():
    """The backward test hands affine_backward the documented cache (x, w, b), not the forward's."""
    lost = points_lost(SOLUTION, run_cells(SOLUTION, edits={"affine_forward": ("@ w + b", "@ w - b")}))
    assert "test_affine_forward" in lost and "test_affine_backward" not in lost, lost
