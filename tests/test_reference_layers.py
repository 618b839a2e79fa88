"""cnnlab.reference linear layer, nonlinearities, softmax loss and gradient-check helpers
against torch float64 autograd and centred differences."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab.reference import (linear_backward, linear_forward, numerical_gradient, rel_error,
                              relu_backward, relu_forward, sigmoid_backward, sigmoid_forward,
                              softmax_cross_entropy, tanh_backward, tanh_forward)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


ACTIVATIONS = {
    "relu": (relu_forward, relu_backward, torch.relu),
    "sigmoid": (sigmoid_forward, sigmoid_backward, torch.sigmoid),
    "tanh": (tanh_forward, tanh_backward, torch.tanh),
}
shapes = st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 6), feature_shape=shapes, d_out=st.integers(1, 7), seed=st.integers(0, 2**31))
def test_linear_matches_torch(n, feature_shape, d_out, seed):
    """``x`` may be ``(N, D_in)`` or a volume ``(N, C, H, W)`` that is flattened first."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *feature_shape))
    w = rng.standard_normal((d_out, int(np.prod(feature_shape))))
    b = rng.standard_normal(d_out)
    out, cache = linear_forward(x, w, b)
    dout = rng.standard_normal(out.shape)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    t_out = F.linear(xt.flatten(1), wt, bt)
    t_out.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-12, atol=1e-12)
    for ours, theirs in zip(linear_backward(dout, cache), (xt.grad, wt.grad, bt.grad)):
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ACTIVATIONS)
@settings(max_examples=40, deadline=None)
@given(shape=shapes, scale=st.sampled_from([0.1, 1.0, 30.0]), seed=st.integers(0, 2**31))
def test_activations_match_torch(name, shape, scale, seed):
    forward, backward, torch_fn = ACTIVATIONS[name]
    rng = np.random.default_rng(seed)
    x = scale * rng.standard_normal(shape)
    dout = rng.standard_normal(shape)
    out, cache = forward(x)
    xt = torch.tensor(x, requires_grad=True)
    t_out = torch_fn(xt)
    t_out.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(backward(dout, cache), xt.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_match_numerical_gradient(name):
    forward, backward, _ = ACTIVATIONS[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    x[np.abs(x) < 1e-3] = 0.5                                  # keep away from ReLU's kink
    dout = rng.standard_normal(x.shape)
    numeric = numerical_gradient(lambda z: forward(z)[0], x, df=dout)
    assert rel_error(backward(dout, forward(x)[1]), numeric) < 1e-8


def test_sigmoid_is_stable_for_huge_inputs():
    x = np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")                         # an overflow warning would fail
        out, _ = sigmoid_forward(x)
    np.testing.assert_allclose(out, torch.sigmoid(torch.tensor(x)).numpy(), rtol=1e-15, atol=0)
    assert out[0] == 0.0 and out[-1] == 1.0 and out[2] == 0.5


def test_relu_gradient_at_zero_is_zero_like_torch():
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(relu_backward(np.ones(3), relu_forward(x)[1]), [0, 0, 1])


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 8), k=st.integers(2, 10), scale=st.sampled_from([1.0, 50.0, 1e4]),
       seed=st.integers(0, 2**31))
def test_softmax_cross_entropy_matches_torch(n, k, scale, seed):
    rng = np.random.default_rng(seed)
    scores = scale * rng.standard_normal((n, k))
    y = rng.integers(0, k, n)
    loss, dscores = softmax_cross_entropy(scores, y)
    st_ = torch.tensor(scores, requires_grad=True)
    t_loss = F.cross_entropy(st_, torch.tensor(y))
    t_loss.backward()
    assert np.isfinite(loss)
    assert loss == pytest.approx(t_loss.item(), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(dscores, st_.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_softmax_cross_entropy_numerical_gradient_and_chance_level():
    rng = np.random.default_rng(1)
    scores, y = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    numeric = numerical_gradient(lambda s: softmax_cross_entropy(s, y)[0], scores)
    assert rel_error(softmax_cross_entropy(scores, y)[1], numeric) < 1e-7
    assert softmax_cross_entropy(np.zeros((3, 10)), np.arange(3))[0] == pytest.approx(np.log(10))


@pytest.mark.parametrize("y, fragment", [
    (np.array([0, 3]), r"labels must lie in \[0, 3\)"),
    (np.array([0.0, 1.0]), "must be 2 integer labels"),
    (np.array([0, 1, 2]), r"shape \(2,\)"),
])
def test_softmax_cross_entropy_rejects_bad_labels(y, fragment):
    with pytest.raises(ValueError, match=fragment):
        softmax_cross_entropy(np.zeros((2, 3)), y)


def test_linear_bad_shapes_are_explained():
    with pytest.raises(ValueError, match="x has 5 features per example but w expects D_in = w.shape\\[1\\] = 4"):
        linear_forward(np.zeros((2, 5)), np.zeros((3, 4)), np.zeros(3))
    with pytest.raises(ValueError, match="b has 2 entries but w has D_out = 3"):
        linear_forward(np.zeros((2, 4)), np.zeros((3, 4)), np.zeros(2))
    with pytest.raises(ValueError, match="use x\\[None\\]"):
        linear_forward(np.zeros(4), np.zeros((3, 4)), np.zeros(3))


def test_numerical_gradient_and_rel_error():
    x = np.array([[0.5, -1.0], [2.0, 3.0]])
    grad = numerical_gradient(lambda z: np.sum(z ** 3), x)
    np.testing.assert_allclose(grad, 3 * x ** 2, rtol=1e-8)
    np.testing.assert_array_equal(x, [[0.5, -1.0], [2.0, 3.0]])   # restored after probing
    df = np.array([[1.0, 0.0], [2.0, -1.0]])
    np.testing.assert_allclose(numerical_gradient(lambda z: np.sin(z), x, df=df),
                               np.cos(x) * df, rtol=1e-8, atol=1e-10)
    assert rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert rel_error([1.0], [2.0]) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="cannot compare shapes"):
        rel_error(np.zeros(2), np.zeros(3))
    with pytest.raises(TypeError, match="float NumPy array"):
        numerical_gradient(lambda z: 0.0, np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="step h must be positive"):
        numerical_gradient(lambda z: 0.0, np.zeros(3), h=0)
