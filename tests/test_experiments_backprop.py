"""cnnlab.experiments.backprop: the slides' Lagrangian adjoints and the per-layer gradient
norms of deep MLPs (lecture notebook 02)."""
from __future__ import annotations

import numpy as np
import pytest

from cnnlab.experiments import backprop as exp
from cnnlab.reference import mlp_backward, mlp_forward, mlp_init, mlp_loss, numerical_gradient


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("seed", range(3))
def test_slides_adjoints_are_minus_2n_times_the_gradient(activation, seed):
    rng = np.random.default_rng(seed)
    sizes = [3 + seed, 5, 4 + seed, 2]
    layers = mlp_init(sizes, activation, "sigmoid", rng)
    x0, y = rng.normal(size=(7, sizes[0])), rng.uniform(size=(7, 2))
    _, cache = mlp_forward(layers, x0)
    zs = exp.lagrangian_adjoints(layers, cache, y)
    xs, _ = cache
    assert [z.shape for z in zs] == [(7, d) for d in sizes[1:]]
    for l, (z, (dW, db)) in enumerate(zip(zs, mlp_backward(layers, cache, y)), start=1):
        np.testing.assert_allclose(z.T @ xs[l - 1], -2 * 7 * dW, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(z.sum(axis=0), -2 * 7 * db, rtol=1e-10, atol=1e-12)


def test_slides_adjoints_match_the_lagrangian_loss_by_finite_differences():
    # the slides' loss is sum_i ||x_i(L) - y_i||^2; its W-gradient is -sum_i z_i(l) x_i(l-1)^T
    rng = np.random.default_rng(4)
    layers = mlp_init([3, 4, 2], "tanh", "identity", rng)
    x0, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    loss = lambda _: float(np.sum((mlp_forward(layers, x0)[0] - y) ** 2))
    _, cache = mlp_forward(layers, x0)
    zs = exp.lagrangian_adjoints(layers, cache, y)
    for l, layer in enumerate(layers, start=1):
        numeric = numerical_gradient(loss, layer.W)
        np.testing.assert_allclose(-(zs[l - 1].T @ cache[0][l - 1]), numeric, rtol=1e-6, atol=1e-8)


def test_layer_gradient_norms_recomputes_the_backward_pass():
    norms = exp.layer_gradient_norms(depth=4, width=6, activation="tanh", seeds=[3], n=9, d_in=5)
    rng = np.random.default_rng(3)
    layers = mlp_init([5, 6, 6, 6, 1], "tanh", "identity", rng)
    x0, y = rng.normal(size=(9, 5)), rng.normal(size=(9, 1))
    _, cache = mlp_forward(layers, x0)
    expected = [np.linalg.norm(dW) for dW, _ in mlp_backward(layers, cache, y)]
    assert norms.shape == (1, 4)
    np.testing.assert_allclose(norms[0], expected)
    assert mlp_loss(mlp_forward(layers, x0)[0], y) > 0


def test_sigmoid_gradients_vanish_towards_the_input_but_relu_ones_do_not():
    sig = exp.layer_gradient_norms(depth=8, activation="sigmoid", seeds=range(3))
    relu = exp.layer_gradient_norms(depth=8, activation="relu", seeds=range(3))
    assert sig.shape == relu.shape == (3, 8) and np.all(sig > 0) and np.all(relu > 0)
    assert np.all(sig[:, 0] / sig[:, -1] < 1e-3)
    assert np.all(relu[:, 0] / relu[:, -1] > 1e-1)
    # the sigmoid net's norms shrink layer after layer (median over seeds)
    assert np.all(np.diff(np.median(sig, axis=0)) > 0)


def test_layer_gradient_norms_rejects_a_single_layer():
    with pytest.raises(ValueError, match="depth"):
        exp.layer_gradient_norms(depth=1)
