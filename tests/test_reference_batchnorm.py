"""cnnlab.reference batch normalization against torch.nn.BatchNorm1d/2d over several train
steps (outputs, gradients, running statistics) and in eval mode; numerical gradients."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab.reference import (batchnorm_backward, batchnorm_forward, batchnorm_init,
                              numerical_gradient, rel_error)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@st.composite
def bn_cases(draw):
    spatial = draw(st.booleans())
    n, d = draw(st.integers(2, 6)), draw(st.integers(1, 5))
    shape = (n, d, draw(st.integers(1, 4)), draw(st.integers(1, 4))) if spatial else (n, d)
    return dict(shape=shape, momentum=draw(st.sampled_from([0.1, 0.3, 0.9])),
                eps=draw(st.sampled_from([1e-5, 1e-3])), seed=draw(st.integers(0, 2**31)))


@settings(max_examples=25, deadline=None)
@given(bn_cases())
def test_batchnorm_matches_torch_over_training_steps_then_eval(case):
    shape, momentum, eps = case["shape"], case["momentum"], case["eps"]
    rng = np.random.default_rng(case["seed"])
    d = shape[1]
    module = (torch.nn.BatchNorm2d if len(shape) == 4 else torch.nn.BatchNorm1d)(
        d, eps=eps, momentum=momentum, dtype=torch.float64)
    gamma, beta = rng.uniform(0.5, 2, d), rng.standard_normal(d)
    with torch.no_grad():
        module.weight.copy_(torch.tensor(gamma))
        module.bias.copy_(torch.tensor(beta))
    running = batchnorm_init(d)[2]

    def step(train: bool):
        x = 3 * rng.standard_normal(shape) + rng.standard_normal(d).reshape((1, d) + (1,) * (len(shape) - 2))
        dout = rng.standard_normal(shape)
        out, cache = batchnorm_forward(x, gamma, beta, running, train=train, momentum=momentum, eps=eps)
        dx, dgamma, dbeta = batchnorm_backward(dout, cache)
        module.train(train)
        module.zero_grad()
        xt = torch.tensor(x, requires_grad=True)
        t_out = module(xt)
        t_out.backward(torch.tensor(dout))
        np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(dgamma, module.weight.grad.numpy(), rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(dbeta, module.bias.grad.numpy(), rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(running["mean"], module.running_mean.numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(running["var"], module.running_var.numpy(), rtol=1e-12, atol=1e-14)

    for _ in range(4):
        step(train=True)
    frozen = {k: v.copy() for k, v in running.items()}
    for _ in range(2):
        step(train=False)
    for key in frozen:                                         # eval never moves the statistics
        np.testing.assert_array_equal(running[key], frozen[key])


def test_eval_mode_is_the_affine_map_of_the_running_statistics():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3, 2, 2))
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.0, -1.0, 3.0])
    running = {"mean": np.array([0.1, 0.2, 0.3]), "var": np.array([1.0, 4.0, 0.25])}
    out, _ = batchnorm_forward(x, gamma, beta, running, train=False, eps=0.0)
    view = lambda v: v.reshape(1, 3, 1, 1)                    # noqa: E731
    np.testing.assert_allclose(out, view(gamma) * (x - view(running["mean"])) / np.sqrt(view(running["var"]))
                               + view(beta), rtol=1e-14)


def test_train_mode_normalizes_each_channel():
    rng = np.random.default_rng(1)
    x = 5 + 3 * rng.standard_normal((8, 4, 3, 3))
    out, _ = batchnorm_forward(x, np.ones(4), np.zeros(4), batchnorm_init(4)[2], train=True, eps=0.0)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, rtol=1e-12)


@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 2, 3)])
@pytest.mark.parametrize("train", [True, False])
def test_batchnorm_gradients_match_numerical_gradient(shape, train):
    rng = np.random.default_rng(2)
    d = shape[1]
    x, dout = rng.standard_normal(shape), rng.standard_normal(shape)
    gamma, beta = rng.uniform(0.5, 2, d), rng.standard_normal(d)
    stats = {"mean": rng.standard_normal(d), "var": rng.uniform(0.5, 2, d)}

    def forward(_):
        # a fresh copy of the running statistics each call: train mode updates them
        return batchnorm_forward(x, gamma, beta, dict(stats), train=train)[0]

    dx, dgamma, dbeta = batchnorm_backward(dout, batchnorm_forward(x, gamma, beta, dict(stats), train=train)[1])
    assert rel_error(dx, numerical_gradient(forward, x, df=dout)) < 1e-6
    assert rel_error(dgamma, numerical_gradient(forward, gamma, df=dout)) < 1e-7
    assert rel_error(dbeta, numerical_gradient(forward, beta, df=dout)) < 1e-7


def test_batchnorm_bad_input_is_explained():
    gamma, beta, running = batchnorm_init(3)
    with pytest.raises(ValueError, match="more than one value per feature"):
        batchnorm_forward(np.zeros((1, 3)), gamma, beta, running, train=True)
    batchnorm_forward(np.zeros((1, 3)), gamma, beta, running, train=False)   # fine at test time
    with pytest.raises(ValueError, match=r"gamma must have shape \(4,\)"):
        batchnorm_forward(np.zeros((2, 4)), gamma, beta, running)
    with pytest.raises(ValueError, match="running must be a dict"):
        batchnorm_forward(np.zeros((2, 3)), gamma, beta, {"mean": np.zeros(3)})
    with pytest.raises(ValueError, match="x must be 2-D or 4-D"):
        batchnorm_forward(np.zeros((2, 3, 4)), gamma, beta, running)
