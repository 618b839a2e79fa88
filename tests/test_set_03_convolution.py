"""Problem set 03 (convolution): the solution passes every test cell, the untouched exercise
fails every one, and each mistake students really make loses the points of the task it is in."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.setlib import points_lost, run_cells

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "03_convolution.ipynb"

# name: (answer cell, text in it, the mistaken text, the test cell that must fail)
MISTAKES = {
    "output size floored instead of raising": (
        "output_size", "if span % stride:", "if False:", "test_output_size"),
    "output size forgets the padding": (
        "output_size", "span = n - f + 2 * padding", "span = n - f", "test_output_size"),
    "output size pads one side only": (
        "output_size", "2 * padding", "padding", "test_output_size"),
    "loop convolution flips the filter": (
        "conv2d", "np.sum(window * w)", "np.sum(window * w[::-1, ::-1])", "test_conv2d"),
    "loop convolution ignores the stride": (
        "conv2d", "x[i * stride:i * stride + f, j * stride:j * stride + f]", "x[i:i + f, j:j + f]",
        "test_conv2d"),
    "loop convolution forgets the bias": ("conv2d", " + bias", "", "test_conv2d"),
    "2x2 pooling reshapes into the wrong windows": (
        "maxpool", "x.reshape(h // 2, 2, w // 2, 2).max(axis=(1, 3))",
        "x.reshape(h // 2, w // 2, 2, 2).max(axis=(2, 3))", "test_maxpool"),
    "parameter count without biases": (
        "conv_param_count", "f * f * d1 * k + k", "f * f * d1 * k", "test_conv_param_count"),
    "parameter count forgets the input depth": (
        "conv_param_count", "f * f * d1 * k + k", "f * f * k + k", "test_conv_param_count"),
    "parameter count with one bias per input channel": (
        "conv_param_count", "f * f * d1 * k + k", "f * f * d1 * k + d1", "test_conv_param_count"),
    "forward forgets the bias": (
        "conv_forward_naive", "[1, 2, 3])) + b", "[1, 2, 3]))", "test_conv_forward_naive"),
    "forward ignores the stride in the window": (
        "conv_forward_naive", "x_pad[:, :, i * stride:i * stride + fh, j * stride:j * stride + fw]",
        "x_pad[:, :, i:i + fh, j:j + fw]", "test_conv_forward_naive"),
    "forward sizes the output for padding but does not pad": (
        "conv_forward_naive", "x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))", "x_pad = x",
        "test_conv_forward_naive"),
    "forward pads only the bottom and right": (
        "conv_forward_naive", "(pad, pad), (pad, pad)", "(0, 2 * pad), (0, 2 * pad)",
        "test_conv_forward_naive"),
    "forward flips the filter (true convolution)": (
        "conv_forward_naive", "np.tensordot(window, w,", "np.tensordot(window, w[:, :, ::-1, ::-1],",
        "test_conv_forward_naive"),
    "forward assumes square filters": (
        "conv_forward_naive", "_, _, fh, fw = w.shape", "fh = fw = w.shape[2]", "test_conv_forward_naive"),
    "forward uses the height for the output width": (
        "conv_forward_naive", "w_out = output_size(width, fw, stride, pad)",
        "w_out = output_size(height, fw, stride, pad)", "test_conv_forward_naive"),
    "forward floors a stride that does not fit": (
        "conv_forward_naive",
        "h_out = output_size(height, fh, stride, pad)\n    w_out = output_size(width, fw, stride, pad)",
        "h_out = (height - fh + 2 * pad) // stride + 1\n    w_out = (width - fw + 2 * pad) // stride + 1",
        "test_conv_forward_stride_error"),
    "backward returns the padded dx": (
        "conv_backward_naive", "dx = dx_pad[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]", "dx = dx_pad",
        "test_conv_backward_dx"),
    "backward crops with -pad (empty when pad is 0)": (
        "conv_backward_naive", "pad:pad + x.shape[2], pad:pad + x.shape[3]", "pad:-pad, pad:-pad",
        "test_conv_backward_dx"),
    "backward takes dw's windows from the unpadded x": (
        "conv_backward_naive", "x_pad[:, :, rows, cols], axes", "x[:, :, rows, cols], axes",
        "test_conv_backward_dw_db"),
    "backward ignores the stride": (
        "conv_backward_naive",
        "rows = slice(i * stride, i * stride + fh)\n            cols = slice(j * stride, j * stride + fw)",
        "rows = slice(i, i + fh)\n            cols = slice(j, j + fw)", "test_conv_backward_dx"),
    "backward ignores the stride in dx only": (
        "conv_backward_naive", "dx_pad[:, :, rows, cols] +=", "dx_pad[:, :, i:i + fh, j:j + fw] +=",
        "test_conv_backward_dx"),
    "backward ignores the stride in dw only": (
        "conv_backward_naive", "x_pad[:, :, rows, cols], axes", "x_pad[:, :, i:i + fh, j:j + fw], axes",
        "test_conv_backward_dw_db"),
    "dx overwrites overlapping windows instead of adding": (
        "conv_backward_naive", "dx_pad[:, :, rows, cols] +=", "dx_pad[:, :, rows, cols] =",
        "test_conv_backward_dx"),
    "dx uses the flipped filter": (
        "conv_backward_naive", "np.tensordot(grad, w, axes", "np.tensordot(grad, w[:, :, ::-1, ::-1], axes",
        "test_conv_backward_dx"),
    "dx forgets the upstream gradient": (
        "conv_backward_naive", "np.tensordot(grad, w, axes", "np.tensordot(np.ones_like(grad), w, axes",
        "test_conv_backward_dx"),
    "db not summed over the images": (
        "conv_backward_naive", "dout.sum(axis=(0, 2, 3))", "dout.sum(axis=(2, 3))", "test_conv_backward_dw_db"),
    "db summed over the filters instead of the images": (
        "conv_backward_naive", "dout.sum(axis=(0, 2, 3))", "dout.sum(axis=(1, 2, 3))",
        "test_conv_backward_dw_db"),
    "db averaged instead of summed": (
        "conv_backward_naive", "dout.sum(axis=(0, 2, 3))", "dout.mean(axis=(0, 2, 3))",
        "test_conv_backward_dw_db"),
    "dw overwritten at each position instead of summed": (
        "conv_backward_naive", "dw += ", "dw = ", "test_conv_backward_dw_db"),
    "dw averaged over the images": (
        "conv_backward_naive", "return dx, dw, db", "return dx, dw / x.shape[0], db",
        "test_conv_backward_dw_db"),
    "dw forgets the upstream gradient": (
        "conv_backward_naive", "np.tensordot(grad, x_pad", "np.tensordot(np.ones_like(grad), x_pad",
        "test_conv_backward_dw_db"),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # a mutant may divide by zero on its way to failing
@pytest.mark.parametrize("name", MISTAKES)
def test_planted_mistake_loses_points(name):
    answer_cell, old, new, failing_cell = MISTAKES[name]
    results = run_cells(SOLUTION, edits={answer_cell: (old, new)})
    assert results[failing_cell] is not None, f"{name!r} passes {failing_cell}: make that test stronger"


# A mistake in one part costs that part only: name: (answer cell, text, mistaken text, {test cell: points lost}).
ONLY_ITS_OWN_POINTS = {
    "forward floors a stride that does not fit (misses the convention only)": (
        "conv_forward_naive",
        "h_out = output_size(height, fh, stride, pad)\n    w_out = output_size(width, fw, stride, pad)",
        "h_out = (height - fh + 2 * pad) // stride + 1\n    w_out = (width - fw + 2 * pad) // stride + 1",
        {"test_conv_forward_stride_error": 1.0}),
    "forward flips the filter (the backward tests use their own cache)": (
        "conv_forward_naive", "np.tensordot(window, w,", "np.tensordot(window, w[:, :, ::-1, ::-1],",
        {"test_conv_forward_naive": 2.0}),
}


@pytest.mark.parametrize("name", ONLY_ITS_OWN_POINTS)
def test_a_mistake_costs_only_the_points_of_its_part(name):
    answer_cell, old, new, lost = ONLY_ITS_OWN_POINTS[name]
    assert points_lost(SOLUTION, run_cells(SOLUTION, edits={answer_cell: (old, new)})) == lost


# Independent correct implementations in cs231n's style, and the points each keeps (of 16).
CS231N_FORWARD = """
from collections import namedtuple

ConvCache = namedtuple("ConvCache", "x w b conv_param")


def conv_forward_naive(x, w, b, conv_param):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    stride, pad = conv_param["stride"], conv_param["pad"]
    assert (H + 2 * pad - HH) % stride == 0, "the filter does not tile the height"
    assert (W + 2 * pad - WW) % stride == 0, "the filter does not tile the width"
    H_out, W_out = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    patch = x_padded[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(patch * w[f]) + b[f]
    return out, ConvCache(x, w, b, conv_param)
"""
CS231N_BACKWARD = """
def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, F, H_out, W_out = dout.shape
    HH, WW = w.shape[2:]
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    dx_padded, dw, db = np.zeros_like(x_padded), np.zeros_like(w), np.zeros_like(b)
    for n in range(N):
        for f in range(F):
            db[f] += dout[n, f].sum()
            for i in range(H_out):
                for j in range(W_out):
                    rows, cols = slice(i * stride, i * stride + HH), slice(j * stride, j * stride + WW)
                    dw[f] += x_padded[n, :, rows, cols] * dout[n, f, i, j]
                    dx_padded[n, :, rows, cols] += w[f] * dout[n, f, i, j]
    return dx_padded[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]], dw, db
"""
FAIR = {
    "an assert instead of the ValueError, a namedtuple cache": (
        {"conv_forward_naive": CS231N_FORWARD}, {"test_conv_forward_stride_error": 1.0}),
    "a cs231n backward unpacking the documented cache": ({"conv_backward_naive": CS231N_BACKWARD}, {}),
    "both together": ({"conv_forward_naive": CS231N_FORWARD, "conv_backward_naive": CS231N_BACKWARD},
                      {"test_conv_forward_stride_error": 1.0}),
}


@pytest.mark.parametrize("name", FAIR)
def test_correct_cs231n_style_code_keeps_its_points(name):
    answers, lost = FAIR[name]
    assert points_lost(SOLUTION, run_cells(SOLUTION, answers=answers)) == lost
