"""cnnlab.arith against torch: output sizes, parameter counts, multiply-adds and
receptive fields on randomized inputs, plus the strict-mode and bad-input messages."""
from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from cnnlab import arith


pytestmark = pytest.mark.usefixtures("one_torch_thread")


FAST = settings(max_examples=150, deadline=None)


def meta(*shape):
    """A tensor with a shape and no data: torch computes output shapes without arithmetic."""
    return torch.empty(*shape, device="meta")


# --------------------------------------------------------------------------- output size

@FAST
@given(n=st.integers(1, 40), f=st.integers(1, 9), stride=st.integers(1, 5),
       padding=st.integers(0, 4), dilation=st.integers(1, 3))
def test_conv_output_size_matches_torch_or_both_refuse(n, f, stride, padding, dilation):
    x, w = meta(1, 1, n, n + 3), meta(1, 1, f, f)
    try:
        expected = F.conv2d(x, w, stride=stride, padding=padding, dilation=dilation).shape[2:]
    except RuntimeError:                                   # torch refuses: so must we
        with pytest.raises(ValueError, match="larger than the padded input"):
            arith.conv_output_size(n, f, stride, padding, dilation)
        return
    got = arith.conv_output_shape((n, n + 3), f, stride, padding, dilation)
    assert got == tuple(expected)
    assert arith.conv_output_size(n, f, stride, padding, dilation) == expected[0]


@FAST
@given(n=st.integers(1, 40), f=st.integers(1, 9), stride=st.integers(1, 5),
       padding=st.integers(0, 4))
def test_strict_accepts_exactly_the_sizes_that_tile(n, f, stride, padding):
    span = n - f + 2 * padding
    if span < 0:
        return
    if span % stride == 0:
        assert arith.conv_output_size(n, f, stride, padding, strict=True) == span // stride + 1
    else:
        with pytest.raises(ValueError, match="is not an integer") as info:
            arith.conv_output_size(n, f, stride, padding, strict=True)
        exact = span / stride + 1
        assert f"({n} - {f} + 2*{padding})/{stride} + 1 = {exact:.2f}" in str(info.value)
        # non-strict floors, like torch
        assert arith.conv_output_size(n, f, stride, padding) == int(exact)


def test_lecture_example_stride_3_message():
    with pytest.raises(ValueError) as info:
        arith.conv_output_size(7, 3, stride=3, strict=True)
    assert "(7 - 3 + 2*0)/3 + 1 = 2.33 is not an integer" in str(info.value)
    # the lecture's other strides fit: 5 and 3
    assert arith.conv_output_size(7, 3, 1, strict=True) == 5
    assert arith.conv_output_size(7, 3, 2, strict=True) == 3


def test_strict_message_suggests_a_fix_that_works():
    with pytest.raises(ValueError) as info:
        arith.conv_output_size(7, 3, stride=3, strict=True)
    pad = int(re.search(r"padding (\d+) fits", str(info.value)).group(1))
    assert arith.conv_output_size(7, 3, stride=3, padding=pad, strict=True) >= 1
    strides = [int(s) for s in re.search(r"strides that fit: \[([\d, ]+)\]", str(info.value))
               .group(1).split(",")]
    assert strides and all(arith.conv_output_size(7, 3, s, strict=True) for s in strides)


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(n=3, f=5), "filter size 5 is larger than the padded input 3 + 2*0 = 3"),
    (dict(n=3, f=3, dilation=2), "dilated filter size 5"),
    (dict(n=7, f=3, stride=0), "stride must be >= 1, got 0"),
    (dict(n=-4, f=3), "input size n must be >= 1, got -4"),
    (dict(n=7, f=0), "filter size f must be >= 1, got 0"),
    (dict(n=7, f=3, padding=-1), "padding must be >= 0, got -1"),
    (dict(n=7, f=3, dilation=0), "dilation must be >= 1, got 0"),
])
def test_impossible_inputs_name_the_wrong_value(kwargs, fragment):
    with pytest.raises(ValueError) as info:
        arith.conv_output_size(**kwargs)
    assert fragment in str(info.value)


@pytest.mark.parametrize("bad", [2.5, "7", True, None])
def test_non_integer_sizes_are_type_errors(bad):
    with pytest.raises(TypeError, match="must be an integer"):
        arith.conv_output_size(bad, 3)


# --------------------------------------------------------------------------- pooling

@FAST
@given(n=st.integers(1, 40), size=st.integers(1, 5), stride=st.integers(1, 5),
       padding=st.integers(0, 2))
def test_pool_output_size_matches_torch(n, size, stride, padding):
    x = meta(1, 1, n, n)
    try:
        expected = F.max_pool2d(x, size, stride, padding).shape[2]
    except RuntimeError:
        with pytest.raises(ValueError):
            arith.pool_output_size(n, size, stride, padding)
        return
    assert arith.pool_output_size(n, size, stride, padding) == expected


def test_pool_defaults_and_strict():
    assert arith.pool_output_size(28) == 14                     # stride defaults to size
    assert arith.pool_output_size(55, 3, 2, strict=True) == 27  # AlexNet's overlapping pool
    assert arith.pool_output_size(7, 2) == 3                    # floors like torch ...
    with pytest.raises(ValueError, match=r"\(7 - 2 \+ 2\*0\)/2 \+ 1 = 3.50 is not an integer"):
        arith.pool_output_size(7, 2, strict=True)               # ... unless strict
    with pytest.raises(ValueError, match="padding 2 is more than half the pool size 3"):
        arith.pool_output_size(10, 3, 1, padding=2)


# --------------------------------------------------------------------------- counts

@FAST
@given(f=st.integers(1, 7), d_in=st.integers(1, 64), k=st.integers(1, 64), bias=st.booleans())
def test_conv_param_count_matches_torch(f, d_in, k, bias):
    layer = torch.nn.Conv2d(d_in, k, f, bias=bias, device="meta")
    assert arith.conv_param_count(f, d_in, k, bias) == sum(p.numel() for p in layer.parameters())


def test_conv_param_count_lecture_and_lenet_values():
    assert arith.conv_param_count(5, 3, 6) == 5 * 5 * 3 * 6 + 6          # 6 filters 5x5x3
    assert arith.conv_param_count(5, 1, 6) == 156                        # LeNet C1
    assert arith.conv_param_count(5, 6, 16) == 2416                      # LeNet C3
    with pytest.raises(ValueError, match="number of filters k must be >= 1"):
        arith.conv_param_count(3, 3, 0)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 3), d_in=st.integers(1, 4), k=st.integers(1, 4), f=st.integers(1, 4),
       h=st.integers(4, 10), stride=st.integers(1, 3), padding=st.integers(0, 2))
def test_conv_mult_adds_matches_torch_flop_counter(n, d_in, k, f, h, stride, padding):
    x, w = torch.zeros(n, d_in, h, h + 1), torch.zeros(k, d_in, f, f)
    with FlopCounterMode(display=False) as counter:
        out = F.conv2d(x, w, stride=stride, padding=padding)
    per_image = arith.conv_mult_adds(out.shape[2:], f, d_in, k)
    assert 2 * n * per_image == counter.get_total_flops()               # a multiply-add = 2 flops


# --------------------------------------------------------------------------- receptive field

def _receptive_field_by_backprop(layers) -> int:
    """Span (first to last pixel) of the input that output position 0 depends on, found
    by autograd through a 1-D stack of all-ones convolutions (positive weights, so no
    cancellation). A kernel-1 layer with stride > 1 skips pixels, so count the span."""
    length = 1
    for kernel, stride in reversed(layers):
        length = (length - 1) * stride + kernel
    x = torch.ones(1, 1, length + 8, dtype=torch.float64, requires_grad=True)
    h = x
    for kernel, stride in layers:
        h = F.conv1d(h, torch.ones(1, 1, kernel, dtype=torch.float64), stride=stride)
    h[0, 0, 0].backward()
    used = torch.nonzero(x.grad[0, 0]).flatten()
    return int(used.max() - used.min() + 1)


def test_three_3x3_layers_see_7x7():
    assert arith.receptive_field([(3, 1)] * 3) == 7
    assert arith.receptive_field([(7, 1)]) == 7
    assert arith.receptive_field([]) == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 6), st.integers(1, 3)), min_size=1, max_size=4))
def test_receptive_field_matches_backprop(layers):
    assert arith.receptive_field(layers) == _receptive_field_by_backprop(layers)


@pytest.mark.parametrize("layers, fragment", [
    ([(3,)], "layer 0 must be a (kernel, stride) pair"),
    ([(3, 1), 5], "layer 1 must be a (kernel, stride) pair"),
    ([(3, 0)], "layer 0 stride must be >= 1"),
    ([(0, 1)], "layer 0 kernel must be >= 1"),
])
def test_receptive_field_rejects_bad_layers(layers, fragment):
    with pytest.raises(ValueError) as info:
        arith.receptive_field(layers)
    assert fragment in str(info.value)


# --------------------------------------------------------------------------- padding, windows

@pytest.mark.parametrize("f, p", [(1, 0), (3, 1), (5, 2), (7, 3), (11, 5)])
def test_same_padding_keeps_the_size(f, p):
    assert arith.same_padding(f) == p
    for n in (f, 13, 28):
        assert arith.conv_output_size(n, f, 1, arith.same_padding(f), strict=True) == n


def test_same_padding_rejects_even_filters():
    with pytest.raises(ValueError, match="filter size 4 is even"):
        arith.same_padding(4)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(3, 15), f=st.integers(1, 4), stride=st.integers(1, 3),
       padding=st.integers(0, 2), dilation=st.integers(1, 2))
def test_window_span_matches_the_taps_torch_reads(n, f, stride, padding, dilation):
    if n + 2 * padding < arith.effective_filter_size(f, dilation):
        return
    x = torch.arange(1, n + 1, dtype=torch.float64).reshape(1, 1, n)    # value = index + 1
    for tap in range(f):
        w = torch.zeros(1, 1, f, dtype=torch.float64)
        w[0, 0, tap] = 1
        out = F.conv1d(x, w, stride=stride, padding=padding, dilation=dilation)[0, 0]
        for i, value in enumerate(out.tolist()):
            index = arith.window_span(i, f, stride, padding, dilation)[tap]
            assert value == (index + 1 if 0 <= index < n else 0)        # 0: read the padding
