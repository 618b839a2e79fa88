"""The perceptron (Block-Novikoff bound, XOR) and the back-propagation MLP (gradients
against torch and centred differences, XOR solved)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab.data import make_separable, make_xor
from cnnlab.reference import (geometric_margin, mlp_backward, mlp_forward,
                              mlp_init, mlp_loss, mlp_train, novikoff_bound, numerical_gradient,
                              perceptron_fit, radius, rel_error)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0, 1, 1, 0])


# --------------------------------------------------------------------------- perceptron

@pytest.mark.parametrize("margin", [0.02, 0.05, 0.1, 0.2, 0.3])
def test_updates_never_exceed_the_novikoff_bound(margin):
    for seed in range(30):
        data = make_separable(n=120, dim=2 + seed % 4, margin=margin, rng=seed)
        R, gamma = radius(data.X), geometric_margin(data.X, data.y, data.w, data.b)
        assert R == pytest.approx(data.R) and gamma == pytest.approx(data.gamma)
        result = perceptron_fit(data.X, data.y, max_epochs=10_000)
        assert result.converged
        assert 1 <= result.updates <= novikoff_bound(R, gamma)
        assert geometric_margin(data.X, data.y, result.w, result.b) > 0      # it separates
        np.testing.assert_array_equal(np.sign(data.X @ result.w + result.b), data.y)


def test_geometric_margin_is_the_distance_of_the_nearest_point():
    """Points at distances 1, 2 and 3 from the line x1 = 0: the margin is 1 whatever the
    scale of (w, b)."""
    X = np.array([[1.0, 5.0], [-2.0, 0.0], [3.0, -4.0]])
    y = np.array([1, -1, 1])
    for scale in (1.0, 10.0, 0.01):
        assert geometric_margin(X, y, scale * np.array([1.0, 0.0]), 0.0) == pytest.approx(1.0)
    assert geometric_margin(X, y, np.array([1.0, 0.0]), -2.0) == pytest.approx(-1.0)   # x1 = 2 misplaces (1, 5)


def test_xor_never_converges():
    X, y = make_xor(n=40, noise=0.1, signed=True, rng=0)
    for data_X, data_y in ((X, y), (XOR_X - 0.5, 2 * XOR_Y - 1)):
        result = perceptron_fit(data_X, data_y, max_epochs=500)
        assert not result.converged and result.epochs == 500
        assert result.updates >= 500                          # a mistake in every epoch
        assert np.any(np.sign(data_X @ result.w + result.b) != data_y)


def test_learning_rate_only_rescales_the_separator():
    data = make_separable(n=60, dim=3, margin=0.1, rng=5)
    one, tenth = perceptron_fit(data.X, data.y), perceptron_fit(data.X, data.y, lr=0.1)
    assert one.updates == tenth.updates and one.epochs == tenth.epochs
    np.testing.assert_allclose(tenth.w, 0.1 * one.w)
    assert tenth.b == pytest.approx(0.1 * one.b)


def test_augmentation_makes_the_bias_learnable():
    """Points far from the origin on one side of x = 3 need a bias: the augmented
    perceptron finds it."""
    X = np.array([[2.0, 0.0], [2.5, 1.0], [3.5, -1.0], [4.0, 0.5]])
    y = np.array([-1, -1, 1, 1])
    result = perceptron_fit(X, y)
    assert result.converged and result.b != 0
    np.testing.assert_array_equal(np.sign(X @ result.w + result.b), y)


def test_perceptron_bad_input():
    with pytest.raises(ValueError, match="labels must be -1 or \\+1.*2\\*y - 1"):
        perceptron_fit(XOR_X, XOR_Y)
    with pytest.raises(ValueError, match="all points are at the origin"):
        perceptron_fit(np.zeros((3, 2)), np.array([1, -1, 1]))
    with pytest.raises(ValueError, match="margin gamma must be positive"):
        novikoff_bound(1.0, 0.0)
    with pytest.raises(ValueError, match="nonzero vector"):
        geometric_margin(XOR_X, 2 * XOR_Y - 1, np.zeros(2))


# --------------------------------------------------------------------------- MLP

def _torch_gradients(layers, x0, y):
    """dJ/dW_l and dJ/db_l by torch autograd on the same network and objective."""
    funcs = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu, "identity": lambda a: a}
    params = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True), f)
              for W, b, f in layers]
    x = torch.tensor(x0)
    for W, b, f in params:
        x = funcs[f](x @ W.T + b)
    J = 0.5 * ((torch.tensor(y) - x) ** 2).sum() / len(y)
    J.backward()
    return J.item(), [(W.grad.numpy(), b.grad.numpy()) for W, b, _ in params]


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 5), min_size=2, max_size=5),
       activation=st.sampled_from(["sigmoid", "tanh", "relu"]),
       output=st.sampled_from(["sigmoid", "identity"]), n=st.integers(1, 6),
       seed=st.integers(0, 2**31))
def test_adjoint_pass_matches_torch(sizes, activation, output, n, seed):
    rng = np.random.default_rng(seed)
    layers = mlp_init(sizes, activation, output, rng=rng)
    x0, y = rng.standard_normal((n, sizes[0])), rng.random((n, sizes[-1]))
    xL, cache = mlp_forward(layers, x0)
    J, expected = _torch_gradients(layers, x0, y)
    assert mlp_loss(xL, y) == pytest.approx(J, rel=1e-12)
    for (dW, db), (tW, tb) in zip(mlp_backward(layers, cache, y), expected):
        np.testing.assert_allclose(dW, tW, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(db, tb, rtol=1e-10, atol=1e-12)


def test_adjoint_pass_matches_numerical_gradient():
    rng = np.random.default_rng(3)
    layers = mlp_init([3, 5, 4, 2], "tanh", "sigmoid", rng=rng)
    x0, y = rng.standard_normal((6, 3)), rng.random((6, 2))
    grads = mlp_backward(layers, mlp_forward(layers, x0)[1], y)
    for layer, (dW, db) in zip(layers, grads):
        J = lambda _: mlp_loss(mlp_forward(layers, x0)[0], y)          # noqa: E731
        assert rel_error(dW, numerical_gradient(J, layer.W)) < 1e-7
        assert rel_error(db, numerical_gradient(J, layer.b)) < 1e-7


@pytest.mark.parametrize("seed", range(5))
def test_mlp_learns_xor(seed):
    layers, losses = mlp_train(XOR_X, XOR_Y, hidden=(4,), activation="sigmoid", lr=5.0,
                               epochs=2000, rng=seed)
    prediction = mlp_forward(layers, XOR_X)[0].ravel() > 0.5
    np.testing.assert_array_equal(prediction, XOR_Y == 1)
    assert losses[-1] < 0.02 < losses[0]


def test_mlp_bad_input():
    with pytest.raises(ValueError, match="unknown activation 'softsign'"):
        mlp_init([2, 3, 1], activation="softsign")
    with pytest.raises(ValueError, match="at least an input and an output width"):
        mlp_init([2])
    layers = mlp_init([2, 3, 1], rng=0)
    with pytest.raises(ValueError, match="x0 has 3 features but W_1 expects d_0 = 2"):
        mlp_forward(layers, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="X has 4 rows but y has 3 targets"):
        mlp_train(XOR_X, XOR_Y[:3], epochs=1)
