"""Problem set 04 (ReLU and max pooling): the solution passes every test cell, the untouched
exercise fails every one, and each mistake students really make loses the points of its task
(ties in max pooling above all: every maximum, the last one, or a split of the gradient)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.setlib import points_lost, run_cells

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "04_relu_pooling.ipynb"

BACKWARD, TIES = "test_max_pool_backward_naive", "test_max_pool_backward_ties"
FORWARD = "test_max_pool_forward_naive"

# name: (answer cell, text in it, the mistaken text, the test cell that must fail)
MISTAKES = {
    "relu gradient passes where x == 0": ("relu", "dout * (x > 0)", "dout * (x >= 0)", "test_relu_derivative_at_zero"),
    "relu gradient taken from the output": (
        "relu", "dx = dout * (x > 0)", "dx = dout * np.maximum(x, 0)", "test_relu"),
    "relu gradient forgets dout": ("relu", "dx = dout * (x > 0)", "dx = 1.0 * (x > 0)", "test_relu"),
    "forward takes the stride as the pool size": (
        "max_pool_forward_naive", 'pool_param["stride"]', 'pool_param["pool_height"]', FORWARD),
    "forward assumes square windows": (
        "max_pool_forward_naive", 'pool_param["pool_width"]', 'pool_param["pool_height"]', FORWARD),
    "forward ignores the stride": (
        "max_pool_forward_naive", "x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]",
        "x[:, :, i:i + ph, j:j + pw]", FORWARD),
    "forward uses the height for the output width": (
        "max_pool_forward_naive", "w_out = conv_output_size(width, pw", "w_out = conv_output_size(height, pw",
        FORWARD),
    "forward floors windows that do not fit": (
        "max_pool_forward_naive", "strict=True", "strict=False", "test_max_pool_forward_stride_error"),
    "forward takes the maximum over the wrong axes": (
        "max_pool_forward_naive", "window.max(axis=(2, 3))", "window.max(axis=(1, 2))", FORWARD),
    "backward gives the gradient to every tied maximum": (
        "max_pool_backward_naive", "np.put_along_axis(mask, first[:, :, None], 1.0, axis=2)",
        "mask = (window == window.max(axis=2, keepdims=True)).astype(float)", TIES),
    "backward gives the gradient to the last tied maximum": (
        "max_pool_backward_naive", "first = window.argmax(axis=2)",
        "first = ph * pw - 1 - window[:, :, ::-1].argmax(axis=2)", TIES),
    "backward splits the gradient among tied maxima": (
        "max_pool_backward_naive", "np.put_along_axis(mask, first[:, :, None], 1.0, axis=2)",
        "mask = (window == window.max(axis=2, keepdims=True)) / "
        "(window == window.max(axis=2, keepdims=True)).sum(axis=2, keepdims=True)", TIES),
    "backward picks the first maximum in column-major order": (
        "max_pool_backward_naive", "first = window.argmax(axis=2)",
        "first_t = window.reshape(n, c, ph, pw).transpose(0, 1, 3, 2).reshape(n, c, ph * pw).argmax(axis=2)\n"
        "            first = (first_t % ph) * pw + first_t // ph", TIES),
    "backward takes the stride as the pool size": (
        "max_pool_backward_naive", 'pool_param["stride"]', 'pool_param["pool_height"]', BACKWARD),
    "backward assumes square windows": (
        "max_pool_backward_naive", 'pool_param["pool_width"]', 'pool_param["pool_height"]', BACKWARD),
    "backward ignores the stride": (
        "max_pool_backward_naive",
        "rows = slice(i * stride, i * stride + ph)\n            cols = slice(j * stride, j * stride + pw)",
        "rows = slice(i, i + ph)\n            cols = slice(j, j + pw)", BACKWARD),
    "backward overwrites overlapping windows instead of adding": (
        "max_pool_backward_naive", "dx[:, :, rows, cols] +=", "dx[:, :, rows, cols] =", BACKWARD),
    "backward spreads the gradient like average pooling": (
        "max_pool_backward_naive", "np.put_along_axis(mask, first[:, :, None], 1.0, axis=2)",
        "mask[:] = 1.0 / (ph * pw)", BACKWARD),
    "backward forgets dout": (
        "max_pool_backward_naive", "mask.reshape(n, c, ph, pw) * dout[:, :, i, j][:, :, None, None]",
        "mask.reshape(n, c, ph, pw)", BACKWARD),
    "backward swaps rows and columns inside a rectangular window": (
        "max_pool_backward_naive", "mask.reshape(n, c, ph, pw)", "mask.reshape(n, c, pw, ph).transpose(0, 1, 3, 2)",
        BACKWARD),
    "backward reads dout at the transposed position": (
        "max_pool_backward_naive", "dout[:, :, i, j]", "dout[:, :, j, i]", BACKWARD),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # a mutant may divide by zero on its way to failing
@pytest.mark.parametrize("name", MISTAKES)
def test_planted_mistake_loses_points(name):
    answer_cell, old, new, failing_cell = MISTAKES[name]
    results = run_cells(SOLUTION, edits={answer_cell: (old, new)})
    assert results[failing_cell] is not None, f"{name!r} passes {failing_cell}: make that test stronger"


# A mistake in one part costs that part only: name: (answer cell, text, mistaken text, {test cell: points lost}).
ONLY_ITS_OWN_POINTS = {
    "relu's derivative at 0 taken as 1 (misses the convention only)": (
        "relu", "dout * (x > 0)", "dout * (x >= 0)", {"test_relu_derivative_at_zero": 1.0}),
    "pooling floors windows that do not fit (misses the convention only)": (
        "max_pool_forward_naive", "strict=True", "strict=False", {"test_max_pool_forward_stride_error": 1.0}),
    "pooling forward over the wrong axes (the backward tests use their own cache)": (
        "max_pool_forward_naive", "window.max(axis=(2, 3))", "window.max(axis=(1, 2))",
        {"test_max_pool_forward_naive": 2.0}),
}


@pytest.mark.parametrize("name", ONLY_ITS_OWN_POINTS)
def test_a_mistake_costs_only_the_points_of_its_part(name):
    answer_cell, old, new, lost = ONLY_ITS_OWN_POINTS[name]
    assert points_lost(SOLUTION, run_cells(SOLUTION, edits={answer_cell: (old, new)})) == lost


# Independent correct implementations in cs231n's style, and the points each keeps (of 10).
CS231N_FORWARD = """
from collections import namedtuple

PoolCache = namedtuple("PoolCache", "x pool_param")


def max_pool_forward_naive(x, pool_param):
    N, C, H, W = x.shape
    HH, WW, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    assert (H - HH) % stride == 0 and (W - WW) % stride == 0, "the windows do not tile the input"
    H_out, W_out = 1 + (H - HH) // stride, 1 + (W - WW) // stride
    out = np.zeros((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    out[n, c, i, j] = np.max(x[n, c, i * stride:i * stride + HH, j * stride:j * stride + WW])
    return out, PoolCache(x, pool_param)
"""
CS231N_BACKWARD = """
def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    HH, WW, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    a, u = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + a, j * stride + u] += dout[n, c, i, j]
    return dx
"""
FAIR = {
    "an assert instead of the ValueError, a namedtuple cache": (
        {"max_pool_forward_naive": CS231N_FORWARD}, {"test_max_pool_forward_stride_error": 1.0}),
    "a cs231n backward unpacking the documented cache": ({"max_pool_backward_naive": CS231N_BACKWARD}, {}),
}


@pytest.mark.parametrize("name", FAIR)
def test_correct_cs231n_style_code_keeps_its_points(name):
    answers, lost = FAIR[name]
    assert points_lost(SOLUTION, run_cells(SOLUTION, answers=answers)) == lost
