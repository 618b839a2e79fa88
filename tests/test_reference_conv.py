"""cnnlab.reference convolution: forward and backward against torch float64 autograd and
centred differences, naive vs fast, strict sizes and bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab.reference import (conv_backward, conv_forward, conv_forward_naive, numerical_gradient,
                              rel_error)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@st.composite
def conv_cases(draw):
    """Random batch, channels, rectangular H x W, kernel 1-5, stride 1-3, padding 0-2,
    keeping only inputs the filter fits into (torch refuses the others too)."""
    f = draw(st.integers(1, 5))
    padding = draw(st.integers(0, 2))
    h = draw(st.integers(max(1, f - 2 * padding), 11))
    w = draw(st.integers(max(1, f - 2 * padding), 11))
    return dict(n=draw(st.integers(1, 3)), c=draw(st.integers(1, 3)), k=draw(st.integers(1, 4)),
                h=h, w=w, f=f, stride=draw(st.integers(1, 3)), padding=padding,
                seed=draw(st.integers(0, 2**31)))


def make(case, dtype=np.float64):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["n"], case["c"], case["h"], case["w"])).astype(dtype)
    w = rng.standard_normal((case["k"], case["c"], case["f"], case["f"])).astype(dtype)
    b = rng.standard_normal(case["k"]).astype(dtype)
    return rng, x, w, b


def torch_conv(x, w, b, stride, padding, dout):
    """Output and (dx, dw, db) from torch autograd, as NumPy arrays."""
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv2d(xt, wt, bt, stride=stride, padding=padding)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


@settings(max_examples=80, deadline=None)
@given(conv_cases())
def test_fast_conv_matches_torch_float64(case):
    rng, x, w, b = make(case)
    s, p = case["stride"], case["padding"]
    out, cache = conv_forward(x, w, b, s, p, strict=False)
    dout = rng.standard_normal(out.shape)
    t_out, t_dx, t_dw, t_db = torch_conv(x, w, b, s, p, dout)
    assert out.shape == t_out.shape
    np.testing.assert_allclose(out, t_out, rtol=1e-10, atol=1e-10)
    dx, dw, db = conv_backward(dout, cache)
    np.testing.assert_allclose(dx, t_dx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dw, t_dw, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(db, t_db, rtol=1e-10, atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(conv_cases())
def test_naive_and_fast_conv_agree_to_1e_10(case):
    rng, x, w, b = make(case)
    s, p = case["stride"], case["padding"]
    fast, fast_cache = conv_forward(x, w, b, s, p, strict=False)
    naive, naive_cache = conv_forward_naive(x, w, b, s, p, strict=False)
    assert np.max(np.abs(fast - naive)) <= 1e-10
    dout = rng.standard_normal(fast.shape)
    for g_fast, g_naive in zip(conv_backward(dout, fast_cache), conv_backward(dout, naive_cache)):
        assert np.max(np.abs(g_fast - g_naive)) <= 1e-10


@pytest.mark.parametrize("seed", range(6))
def test_conv_gradients_match_numerical_gradient(seed):
    rng = np.random.default_rng(seed)
    f, stride, padding = int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(0, 2))
    x = rng.standard_normal((2, int(rng.integers(1, 3)), int(rng.integers(f, 7)), int(rng.integers(f, 7))))
    w = rng.standard_normal((int(rng.integers(1, 3)), x.shape[1], f, f))
    b = rng.standard_normal(w.shape[0])
    out, cache = conv_forward(x, w, b, stride, padding, strict=False)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv_backward(dout, cache)
    forward = lambda: conv_forward(x, w, b, stride, padding, strict=False)[0]  # noqa: E731
    assert rel_error(dx, numerical_gradient(lambda _: forward(), x, df=dout)) < 1e-7
    assert rel_error(dw, numerical_gradient(lambda _: forward(), w, df=dout)) < 1e-7
    assert rel_error(db, numerical_gradient(lambda _: forward(), b, df=dout)) < 1e-7


def test_float32_stays_float32_and_matches_torch():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 12, 10), dtype=np.float32)
    w = rng.standard_normal((5, 3, 3, 3), dtype=np.float32)
    b = rng.standard_normal(5, dtype=np.float32)
    out, cache = conv_forward(x, w, b, 1, 1)
    dout = rng.standard_normal(out.shape, dtype=np.float32)
    grads = conv_backward(dout, cache)
    assert out.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    for ours, theirs in zip((out, *grads), torch_conv(x, w, b, 1, 1, dout)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)


def test_chained_layers_in_any_memory_layout():
    """The fast pass returns a batch-last view; feeding it (and its gradients) through a
    second convolution must still be exact."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 2, 9, 8))
    w1, b1 = rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    w2, b2 = rng.standard_normal((5, 4, 2, 2)), rng.standard_normal(5)
    h, c1 = conv_forward(x, w1, b1, 1, 1)
    out, c2 = conv_forward(h, w2, b2, 2, 0, strict=False)
    dout = rng.standard_normal(out.shape)
    dh, dw2, _ = conv_backward(dout, c2)
    dx, dw1, _ = conv_backward(dh, c1)

    xt, w1t, w2t = (torch.tensor(a, requires_grad=True) for a in (x, w1, w2))
    t_out = F.conv2d(F.conv2d(xt, w1t, torch.tensor(b1), padding=1), w2t, torch.tensor(b2), stride=2)
    t_out.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, t_out.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dw1, w1t.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dw2, w2t.grad.numpy(), atol=1e-10)


def test_input_grad_false_skips_dx_only():
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((2, 1, 8, 8)), rng.standard_normal((3, 1, 5, 5)), np.zeros(3)
    out, cache = conv_forward(x, w, b, 1, 2)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv_backward(dout, cache)
    none, dw2, db2 = conv_backward(dout, cache, input_grad=False)
    assert none is None and dx.shape == x.shape
    np.testing.assert_array_equal(dw, dw2)
    np.testing.assert_array_equal(db, db2)


def test_strict_sizes_show_the_lecture_arithmetic():
    x, w, b = np.zeros((1, 1, 7, 7)), np.zeros((1, 1, 3, 3)), np.zeros(1)
    for forward in (conv_forward, conv_forward_naive):
        with pytest.raises(ValueError, match=r"\(7 - 3 \+ 2\*0\)/3 \+ 1 = 2.33 is not an integer"):
            forward(x, w, b, stride=3)
        assert forward(x, w, b, stride=3, strict=False)[0].shape == (1, 1, 2, 2)   # torch floors
        assert forward(x, w, b, stride=2)[0].shape == (1, 1, 3, 3)


@pytest.mark.parametrize("x_shape, w_shape, b_shape, fragment", [
    ((2, 3, 8, 8), (4, 2, 3, 3), (4,), "w has 2 input channels"),
    ((2, 3, 8, 8), (4, 3, 3, 3), (3,), "b has 3 entries but there are 4 filters"),
    ((3, 8, 8), (4, 3, 3, 3), (4,), "x must be 4-D (N, C, H, W)"),
    ((2, 3, 8, 8), (4, 3, 3), (4,), "w must be 4-D (K, C, FH, FW)"),
    ((1, 1, 2, 2), (1, 1, 5, 5), (1,), "larger than the padded input"),
])
def test_bad_shapes_are_explained(x_shape, w_shape, b_shape, fragment):
    with pytest.raises(ValueError) as info:
        conv_forward(np.zeros(x_shape), np.zeros(w_shape), np.zeros(b_shape))
    assert fragment in str(info.value)


def test_integer_images_and_wrong_dout_are_rejected():
    with pytest.raises(TypeError, match="x must be a float array, got dtype uint8"):
        conv_forward(np.zeros((1, 1, 5, 5), np.uint8), np.zeros((1, 1, 3, 3)), np.zeros(1))
    out, cache = conv_forward(np.zeros((1, 1, 5, 5)), np.zeros((2, 1, 3, 3)), np.zeros(2))
    expected = r"dout has shape \(1, 2, 4, 4\) but the forward pass produced \(1, 2, 3, 3\)"
    with pytest.raises(ValueError, match=expected):
        conv_backward(np.zeros((1, 2, 4, 4)), cache)
