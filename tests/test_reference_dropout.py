"""cnnlab.reference inverted dropout: the expectation is preserved (a statistical test),
the same mask is used forward and backward, and test mode is the identity."""
from __future__ import annotations

import numpy as np
import pytest

from cnnlab.reference import dropout_backward, dropout_forward, numerical_gradient, rel_error


@pytest.mark.parametrize("p_drop", [0.1, 0.5, 0.8])
def test_expectation_and_drop_rate(p_drop):
    n = 200_000
    x = np.full(n, 3.0)
    out, _ = dropout_forward(x, p_drop, train=True, rng=np.random.default_rng(0))
    # each entry is 3/(1-p) with probability 1-p, else 0: mean 3, std 3*sqrt(p/(1-p))
    std_of_mean = 3 * np.sqrt(p_drop / (1 - p_drop)) / np.sqrt(n)
    assert abs(out.mean() - 3.0) < 5 * std_of_mean            # fails if the scaling is wrong
    dropped = np.mean(out == 0)
    assert abs(dropped - p_drop) < 5 * np.sqrt(p_drop * (1 - p_drop) / n)
    np.testing.assert_allclose(np.unique(out), [0.0, 3 / (1 - p_drop)])


def test_both_conventions_give_the_test_time_expectation():
    """The lecture's convention (keep with probability p, scale by p at test) and the
    inverted one agree in expectation with their own test-time output."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(50)
    p_keep, trials = 0.6, 40_000
    inverted = np.mean([dropout_forward(x, 1 - p_keep, rng=rng)[0] for _ in range(trials)], axis=0)
    original = np.mean([x * (rng.random(x.shape) < p_keep) for _ in range(trials)], axis=0)
    tol = 5 * np.abs(x) * np.sqrt((1 - p_keep) / p_keep / trials) + 1e-12
    assert np.all(np.abs(inverted - dropout_forward(x, 1 - p_keep, train=False)[0]) < tol)
    assert np.all(np.abs(original - p_keep * x) < tol * p_keep)


def test_backward_uses_the_forward_mask():
    rng = np.random.default_rng(2)
    x = rng.uniform(1, 2, (4, 5, 6))                          # nonzero: out / x is the mask
    out, cache = dropout_forward(x, 0.4, rng=rng)
    dout = rng.standard_normal(x.shape)
    dx = dropout_backward(dout, cache)
    np.testing.assert_allclose(dx, dout * out / x, rtol=1e-12)
    numeric = numerical_gradient(lambda z: z * cache, x, df=dout)   # the fixed-mask layer
    assert rel_error(dx, numeric) < 1e-9


def test_test_mode_is_the_identity_and_train_mode_is_reproducible():
    x = np.arange(12.0).reshape(3, 4)
    out, cache = dropout_forward(x, 0.5, train=False, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(out, x)
    dout = np.ones_like(x)
    np.testing.assert_array_equal(dropout_backward(dout, cache), dout)
    a = dropout_forward(x, 0.5, rng=np.random.default_rng(7))[0]
    b = dropout_forward(x, 0.5, rng=np.random.default_rng(7))[0]
    c = dropout_forward(x, 0.5, rng=np.random.default_rng(8))[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(dropout_forward(x, 0.0, rng=0)[0], x)


def test_float32_kept_and_bad_probability_rejected():
    out, mask = dropout_forward(np.ones(10, np.float32), 0.3, rng=0)
    assert out.dtype == np.float32 and mask.dtype == np.float32
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="p_drop is the probability of dropping a unit"):
            dropout_forward(np.ones(3), bad)
    with pytest.raises(ValueError, match="dout has shape"):
        dropout_backward(np.ones(4), mask)
