"""cnnlab.reference pooling against torch float64: overlapping and non-overlapping windows,
tied maxima (routed like torch), average pooling, numerical gradients, strict sizes."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab.reference import (avgpool_backward, avgpool_forward, maxpool_backward, maxpool_forward,
                              numerical_gradient, rel_error)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@st.composite
def pool_cases(draw):
    """Random shapes, window 1-4 and stride 1-4: stride < size overlaps (AlexNet: 3, 2)."""
    size = draw(st.integers(1, 4))
    return dict(n=draw(st.integers(1, 3)), c=draw(st.integers(1, 3)),
                h=draw(st.integers(size, 12)), w=draw(st.integers(size, 12)),
                size=size, stride=draw(st.integers(1, 4)), seed=draw(st.integers(0, 2**31)),
                ties=draw(st.booleans()))


def make_input(case):
    rng = np.random.default_rng(case["seed"])
    shape = (case["n"], case["c"], case["h"], case["w"])
    # ties=True draws from {0, 1, 2}: most windows then hold their maximum several times
    x = rng.integers(0, 3, shape).astype(np.float64) if case["ties"] else rng.standard_normal(shape)
    return rng, x


def torch_pool(fn, x, size, stride, dout):
    xt = torch.tensor(x, requires_grad=True)
    out = fn(xt, size, stride)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy()


@settings(max_examples=120, deadline=None)
@given(pool_cases())
def test_maxpool_matches_torch_including_overlap_and_ties(case):
    rng, x = make_input(case)
    out, cache = maxpool_forward(x, case["size"], case["stride"], strict=False)
    dout = rng.standard_normal(out.shape)
    t_out, t_dx = torch_pool(F.max_pool2d, x, case["size"], case["stride"], dout)
    np.testing.assert_array_equal(out, t_out)
    np.testing.assert_allclose(maxpool_backward(dout, cache), t_dx, rtol=1e-12, atol=1e-12)


@settings(max_examples=80, deadline=None)
@given(pool_cases())
def test_avgpool_matches_torch(case):
    rng, x = make_input(case)
    out, cache = avgpool_forward(x, case["size"], case["stride"], strict=False)
    dout = rng.standard_normal(out.shape)
    t_out, t_dx = torch_pool(F.avg_pool2d, x, case["size"], case["stride"], dout)
    np.testing.assert_allclose(out, t_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(avgpool_backward(dout, cache), t_dx, rtol=1e-12, atol=1e-12)


def test_tie_goes_to_the_first_maximum_in_row_major_order():
    x = np.array([[[[1.0, 5.0, 5.0],
                    [5.0, 0.0, 2.0],
                    [5.0, 1.0, 5.0]]]])
    out, cache = maxpool_forward(x, size=2, stride=1)         # overlapping 2x2 windows
    np.testing.assert_array_equal(out[0, 0], [[5, 5], [5, 5]])
    dx = maxpool_backward(np.array([[[[1.0, 10.0], [100.0, 1000.0]]]]), cache)
    # windows: (0,0) and (1,0) pick x[0,1] / x[1,0] (first 5 in row-major order); (0,1) picks
    # x[0,1] too, so x[0,1] collects 1 + 10; (1,1) holds 5 only at x[2,2]
    np.testing.assert_array_equal(dx[0, 0], [[0, 11, 0], [100, 0, 0], [0, 0, 1000]])


def test_alexnet_overlapping_pool_gradient_sums_over_windows():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 13, 13))
    out, cache = maxpool_forward(x, 3, 2)                     # 13 -> 6, windows overlap
    assert out.shape == (2, 3, 6, 6)
    dx = maxpool_backward(np.ones_like(out), cache)
    assert dx.sum() == pytest.approx(out.size)                # every window routes exactly 1
    assert dx.max() > 1                                       # some input won several windows


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("pool", ["max", "avg"])
def test_pool_gradients_match_numerical_gradient(seed, pool):
    forward, backward = {"max": (maxpool_forward, maxpool_backward),
                         "avg": (avgpool_forward, avgpool_backward)}[pool]
    rng = np.random.default_rng(seed)
    size, stride = [(2, 2), (3, 2), (2, 1), (3, 3)][seed]
    x = rng.standard_normal((2, 2, 7, 8))
    out, cache = forward(x, size, stride, strict=False)
    dout = rng.standard_normal(out.shape)
    numeric = numerical_gradient(lambda z: forward(z, size, stride, strict=False)[0], x, df=dout)
    assert rel_error(backward(dout, cache), numeric) < 1e-6


def test_float32_and_batch_last_views_are_kept_exact():
    rng = np.random.default_rng(3)
    x = np.ascontiguousarray(rng.standard_normal((6, 4, 6, 3), dtype=np.float32)).transpose(3, 0, 1, 2)
    out, cache = maxpool_forward(x, 2)                        # x: (3, 6, 4, 6) non-contiguous
    dout = rng.standard_normal(out.shape, dtype=np.float32)
    t_out, t_dx = torch_pool(F.max_pool2d, np.ascontiguousarray(x), 2, 2, dout)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, t_out)
    np.testing.assert_array_equal(maxpool_backward(dout, cache), t_dx)


def test_strict_and_bad_input():
    x = np.zeros((1, 1, 7, 7))
    with pytest.raises(ValueError, match=r"\(7 - 2 \+ 2\*0\)/2 \+ 1 = 3.50 is not an integer"):
        maxpool_forward(x, 2)
    assert maxpool_forward(x, 2, strict=False)[0].shape == (1, 1, 3, 3)
    assert avgpool_forward(x, 3, 2)[0].shape == (1, 1, 3, 3)
    with pytest.raises(ValueError, match="x must be 4-D"):
        maxpool_forward(np.zeros((7, 7)), 2)
    with pytest.raises(ValueError, match="pool size must be >= 1"):
        avgpool_forward(x, 0)
    with pytest.raises(ValueError, match="filter size 9 is larger than the padded input 7"):
        maxpool_forward(x, 9)
    out, cache = maxpool_forward(np.zeros((1, 1, 4, 4)), 2)
    with pytest.raises(ValueError, match="dout has shape"):
        maxpool_backward(np.zeros((1, 1, 4, 4)), cache)
