"""cnnlab.data.shift against its definition, shift equivariance of
the reference convolution on random shapes, and the timer of cnnlab.experiments.convolution."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab.data import shift, valid_region
from cnnlab.experiments.convolution import best_time
from cnnlab.reference import conv_forward, conv_forward_naive


def shift_by_definition(x, dy, dx):
    """out[..., i, j] = x[..., i - dy, j - dx] where that index exists, else 0 (loops)."""
    out = np.zeros_like(x)
    h, w = x.shape[-2:]
    for i in range(h):
        for j in range(w):
            if 0 <= i - dy < h and 0 <= j - dx < w:
                out[..., i, j] = x[..., i - dy, j - dx]
    return out


@pytest.mark.parametrize("dy, dx", [(0, 0), (1, 0), (0, 1), (2, 3), (-1, 2), (-3, -4), (4, -1)])
def test_shift_matches_definition(dy, dx):
    x = np.random.default_rng(0).integers(0, 256, (2, 3, 6, 7)).astype(np.uint8)
    out = shift(x, dy, dx)
    assert out.dtype == x.dtype and out.shape == x.shape
    np.testing.assert_array_equal(out, shift_by_definition(x, dy, dx))
    # valid_region is exactly where the shifted array holds values of x (not the zero fill)
    filled = np.ones(x.shape[-2:], dtype=bool)
    filled[valid_region(x.shape, dy, dx)[1:]] = False
    inside = ~filled
    assert inside.sum() == (6 - abs(dy)) * (7 - abs(dx))
    assert (out[..., filled] == 0).all()


@st.composite
def conv_cases(draw):
    f = draw(st.integers(1, 5))
    h, w = draw(st.integers(f + 4, 14)), draw(st.integers(f + 4, 14))
    return dict(n=draw(st.integers(1, 2)), c=draw(st.integers(1, 3)), k=draw(st.integers(1, 3)),
                h=h, w=w, f=f, dy=draw(st.integers(-3, 3)), dx=draw(st.integers(-3, 3)),
                seed=draw(st.integers(0, 2**31)))


@settings(max_examples=40, deadline=None)
@given(conv_cases())
def test_convolution_commutes_with_shift_on_the_valid_region(case):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["n"], case["c"], case["h"], case["w"]))
    w = rng.standard_normal((case["k"], case["c"], case["f"], case["f"]))
    b = rng.standard_normal(case["k"])
    dy, dx = case["dy"], case["dx"]
    shifted_then_conv, _ = conv_forward(shift(x, dy, dx), w, b)
    conv_then_shifted = shift(conv_forward(x, w, b)[0], dy, dx)
    region = valid_region(conv_then_shifted.shape, dy, dx)
    np.testing.assert_allclose(shifted_then_conv[region], conv_then_shifted[region], rtol=0, atol=1e-12)
    if dy or dx:   # outside the region the zero fill of the map differs from the real response
        outside = np.ones(conv_then_shifted.shape[-2:], dtype=bool)
        outside[region[1:]] = False
        assert not np.allclose(shifted_then_conv[..., outside], conv_then_shifted[..., outside])


def test_naive_convolution_is_shift_equivariant_too():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((1, 2, 9, 9)), rng.standard_normal((2, 2, 3, 3)), rng.standard_normal(2)
    a, _ = conv_forward_naive(shift(x, 2, -1), w, b)
    c = shift(conv_forward_naive(x, w, b)[0], 2, -1)
    region = valid_region(c.shape, 2, -1)
    np.testing.assert_allclose(a[region], c[region], rtol=0, atol=1e-12)


@pytest.mark.parametrize("args, error, text", [
    ((np.zeros((4, 4)), 4, 0), ValueError, "out of view"),
    ((np.zeros((4, 4)), 0, -5), ValueError, "|dx| < 4"),
    ((np.zeros(4), 1, 0), ValueError, "(..., H, W)"),
    ((np.zeros((4, 4)), 1.5, 0), TypeError, "dy must be an integer"),
])
def test_shift_rejects_bad_input(args, error, text):
    with pytest.raises(error) as info:
        shift(*args)
    assert text in str(info.value)


def test_best_time_calls_repeat_times_and_returns_the_minimum():
    calls = []
    assert best_time(lambda: calls.append(1), repeat=4) >= 0.0
    assert len(calls) == 4
    durations = iter([0.02, 0.0, 0.01])

    def sleeper():
        import time
        time.sleep(next(durations))
    assert best_time(sleeper, repeat=3) < 0.015
    with pytest.raises(ValueError, match="repeat must be >= 1"):
        best_time(lambda: None, repeat=0)
