"""State models of the widgets, checked against cnnlab.arith and against torch (float64).

Which input cells an output reads is checked with autograd: with an all-ones filter,
d out[i, j] / d x is 1 exactly on the cells the window reads, so the state's
``reads``/``coverage``/``region`` must match torch's gradients cell for cell.
"""
from __future__ import annotations

import itertools
import re
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from cnnlab import arith
from cnnlab.widgets.state import ConvState, PoolState, ReceptiveFieldState

LECTURE_X = [[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]]


def _torch_conv_shape(n, f, padding, stride, dilation):
    x = torch.zeros(1, 1, n, n, dtype=torch.float64)
    w = torch.zeros(1, 1, f, f, dtype=torch.float64)
    try:
        return tuple(F.conv2d(x, w, stride=stride, padding=padding, dilation=dilation).shape[2:])
    except RuntimeError:
        return None


# ----- ConvState: sizes ------------------------------------------------------------------
def test_conv_state_shapes_match_arith_and_torch_on_a_grid():
    checked = invalid = inexact = 0
    for n, f, p, s, d in itertools.product(range(1, 10), range(1, 6), range(0, 4), range(1, 5), range(1, 4)):
        state = ConvState(n, f, p, s, d)
        expected = _torch_conv_shape(n, f, p, s, d)
        assert state.output_shape == expected, (n, f, p, s, d)
        if expected is None:
            invalid += 1
            with pytest.raises(ValueError) as err:
                arith.conv_output_size(n, f, s, p, d)
            assert state.error == str(err.value)
            continue
        assert state.output_size == arith.conv_output_size(n, f, s, p, d)
        try:
            arith.conv_output_size(n, f, s, p, d, strict=True)
            assert state.exact and state.message is None
        except ValueError as err:
            inexact += 1
            assert not state.exact and state.message == str(err)
        assert state.exact_value.denominator == 1 or not state.exact
        assert int(state.exact_value) == state.output_size           # floor of the exact value
        assert state.num_steps == state.output_size ** 2
        assert state.formula().endswith(f"= {state.output_size}")
        checked += 1
    assert checked > 1000 and invalid > 100 and inexact > 300     # the grid covers all three cases


@pytest.mark.parametrize("stride, size, exact", [(1, 5, True), (2, 3, True), (3, 2, False)])
def test_lecture_7x7_3x3_strides(stride, size, exact):
    state = ConvState(7, 3, 0, stride)
    assert state.output_shape == (size, size)
    assert state.exact is exact
    if not exact:
        assert "2.33" in state.message and "not an integer" in state.message
        assert state.exact_value == Fraction(7, 3)
        # the window never reaches the last row and the last column: 13 cells
        assert sorted(state.unreached()) == sorted({(6, c) for c in range(7)} | {(r, 6) for r in range(7)})
    else:
        assert state.unreached() == []


@pytest.mark.parametrize("f", [3, 5, 7])
def test_same_padding_keeps_size(f):
    state = ConvState(7, f, arith.same_padding(f), 1)
    assert state.output_shape == (7, 7) and state.exact


def test_conv_formula_and_text_wording():
    state = ConvState(7, 3, 0, 2)
    assert state.formula() == "N_out = floor((N - F + 2P)/S) + 1 = floor((7 - 3 + 2*0)/2) + 1 = 3"
    assert state.text == "ConvExplorer(n=7, f=3, padding=0, stride=2 -> 3x3)"
    assert ConvState(7, 3, 0, 3).text == "ConvExplorer(n=7, f=3, padding=0, stride=3 -> 2x2, floored from 2.33)"
    assert ConvState(2, 5).text.endswith("-> no output)")
    dilated = ConvState(9, 3, 1, 2, 2)
    assert dilated.dilation_formula() == "F_eff = D*(F - 1) + 1 = 2*(3 - 1) + 1 = 5"
    assert "dilation=2" in dilated.text


# ----- ConvState: which cells are read -----------------------------------------------------
def _torch_reads(n, f, p, s, d):
    """Per output cell, the set of input cells with nonzero d out / d x (all-ones filter)."""
    x = torch.rand(1, 1, n, n, dtype=torch.float64, requires_grad=True)
    w = torch.ones(1, 1, f, f, dtype=torch.float64)
    out = F.conv2d(x, w, stride=s, padding=p, dilation=d)[0, 0]
    reads = {}
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            (g,) = torch.autograd.grad(out[i, j], x, retain_graph=True)
            g = g[0, 0].numpy()
            assert set(np.unique(g)) <= {0.0, 1.0}
            reads[(i, j)] = {tuple(int(k) for k in rc) for rc in np.argwhere(g != 0)}
    return reads


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 9), f=st.integers(1, 4), p=st.integers(0, 3), s=st.integers(1, 4), d=st.integers(1, 3))
def test_conv_reads_match_torch_gradients(n, f, p, s, d):
    state = ConvState(n, f, p, s, d)
    if not state.valid:
        assert _torch_conv_shape(n, f, p, s, d) is None
        return
    torch_reads = _torch_reads(n, f, p, s, d)
    assert len(torch_reads) == state.num_steps
    coverage = np.zeros((n, n), dtype=np.int64)
    for step in range(state.num_steps):
        i, j = state.position(step)
        assert set(state.reads(i, j)) == torch_reads[(i, j)], (i, j)
        assert len(state.reads(i, j, include_padding=True)) == f * f
        for r, c in torch_reads[(i, j)]:
            coverage[r, c] += 1
    np.testing.assert_array_equal(state.coverage()[p:p + n, p:p + n], coverage)
    assert set(state.unreached()) == {tuple(int(k) for k in rc) for rc in np.argwhere(coverage == 0)}


def test_conv_window_uses_arith_window_span():
    state = ConvState(7, 3, 1, 2)
    assert state.window(1, 2) == (arith.window_span(1, 3, 2, 1), arith.window_span(2, 3, 2, 1))
    assert state.describe_step(0) == ("output (0, 0) reads input rows -1 to 1, cols -1 to 1 "
                                      "(5 of the 9 taps fall on zero padding)")
    with pytest.raises(IndexError, match="outside"):
        state.window(4, 0)
    with pytest.raises(IndexError, match="step 16"):
        state.position(16)


@pytest.mark.parametrize("kwargs, error, pattern", [
    ({"n": 0}, ValueError, "n must be >= 1"),
    ({"f": 2.5}, TypeError, "f must be an integer"),
    ({"padding": -1}, ValueError, "padding must be >= 0"),
    ({"stride": 0}, ValueError, "stride must be >= 1"),
    ({"dilation": True}, TypeError, "dilation must be an integer"),
])
def test_conv_state_rejects_bad_parameters(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        ConvState(**kwargs)


# ----- PoolState -----------------------------------------------------------------------
def test_lecture_max_pooling_example():
    state = PoolState(np.array(LECTURE_X), size=2, stride=2, mode="max")
    np.testing.assert_array_equal(state.output, [[6, 8], [3, 4]])
    assert [state.argmax(*state.position(k)) for k in range(4)] == [(1, 1), (1, 3), (2, 0), (3, 3)]
    assert state.text == "PoolExplorer(x=4x4, size=2, stride=2, mode='max' -> 2x2)"
    assert PoolState().output.tolist() == [[6, 8], [3, 4]]       # the lecture's slice is the default


def _pool_cases():
    rng = np.random.default_rng(5)
    shapes = [(4, 4), (5, 5), (7, 7), (6, 9), (8, 5), (3, 3)]
    for (h, w), size, stride in itertools.product(shapes, [1, 2, 3], [1, 2, 3]):
        if size <= min(h, w):
            yield rng.integers(0, 4, size=(h, w)).astype(np.float64), size, stride   # many ties


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pool_values_shapes_and_gradients_match_torch(mode):
    count = 0
    for x, size, stride in _pool_cases():
        state = PoolState(x, size, stride, mode)
        xt = torch.tensor(x[None, None], requires_grad=True)
        if mode == "max":
            out, idx = F.max_pool2d(xt, size, stride, return_indices=True)
            picked = [state.argmax(*state.position(k)) for k in range(state.num_steps)]
            # ties: the first maximum in row-major order, exactly like torch's indices
            assert [r * x.shape[1] + c for r, c in picked] == idx.flatten().tolist(), (x, size, stride)
        else:
            out = F.avg_pool2d(xt, size, stride)
        assert state.output_shape == tuple(out.shape[2:])
        assert state.output_shape == (arith.pool_output_size(x.shape[0], size, stride),
                                      arith.pool_output_size(x.shape[1], size, stride))
        np.testing.assert_allclose(state.output, out[0, 0].detach().numpy(), rtol=0, atol=1e-12)
        dout = torch.rand_like(out)
        (gx,) = torch.autograd.grad(out, xt, dout)
        np.testing.assert_allclose(state.input_gradient(dout[0, 0].numpy()), gx[0, 0].numpy(), atol=1e-12)
        count += 1
    assert count > 40


@pytest.mark.parametrize("n", [5, 7, 9])
def test_overlapping_3x3_stride_2_pooling(n):
    x = np.arange(n * n, dtype=np.float64).reshape(n, n)[::-1].copy()
    state = PoolState(x, size=3, stride=2)
    out = F.max_pool2d(torch.tensor(x[None, None]), 3, 2)[0, 0].numpy()
    np.testing.assert_array_equal(state.output, out)
    assert state.exact                                       # (n - 3)/2 is an integer for odd n
    rows0, rows1 = state.window(0, 0)[0], state.window(1, 0)[0]
    assert set(rows0) & set(rows1) == {2}                    # neighbouring windows share a row
    # routing: the shared cells can receive gradient from two outputs
    assert state.input_gradient().max() >= 1


def test_pool_unreached_and_strict_message():
    state = PoolState(np.ones((5, 5)), size=2, stride=2)
    assert state.output_shape == (2, 2) and not state.exact
    with pytest.raises(ValueError) as err:
        arith.pool_output_size(5, 2, 2, strict=True)
    assert state.message == str(err.value)
    assert sorted(state.unreached()) == sorted({(4, c) for c in range(5)} | {(r, 4) for r in range(5)})
    avg = PoolState(np.ones((5, 5)), size=2, stride=2, mode="avg")
    zero = {tuple(int(k) for k in rc) for rc in np.argwhere(avg.input_gradient() == 0)}
    assert zero == set(state.unreached())


def test_pool_too_large_window_is_a_state_not_an_exception():
    state = PoolState(np.ones((3, 5)), size=4, stride=1)
    assert not state.valid and state.output_shape is None and state.num_steps == 0
    assert state.output.shape == (0, 0)
    assert "larger than" in state.message and state.text.endswith("-> no output)")


@pytest.mark.parametrize("kwargs, pattern", [
    ({"x": np.ones((2, 2, 2))}, "2-D array"),
    ({"x": [[1.0, float("nan")]]}, "finite"),
    ({"mode": "min"}, "mode must be one of"),
    ({"size": 0}, "size must be >= 1"),
])
def test_pool_state_rejects_bad_input(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        PoolState(**kwargs)


def test_pool_state_copies_its_input():
    x = np.array(LECTURE_X, dtype=np.float64)
    state = PoolState(x)
    x[1, 1] = 100
    assert state.output[0, 0] == 6


# ----- ReceptiveFieldState ---------------------------------------------------------------
def test_three_3x3_layers_see_7x7_with_27_instead_of_49_C2_weights():
    state = ReceptiveFieldState([(3, 1)] * 3)
    assert state.receptive_field == 7 == state.region_span(0)
    assert state.sizes == (9, 7, 5, 3) and state.output_shape == (3, 3)
    assert state.growth() == [1, 3, 5, 7]
    for c in (1, 3, 64):
        assert state.stack_weights(c) == 27 * c * c
        assert state.single_layer_weights(c) == 49 * c * c
    assert "27C^2" in state.weights_text(64) and "49C^2" in state.weights_text(64)
    assert state.text == "ReceptiveFieldExplorer(layers=[(3, 1), (3, 1), (3, 1)] -> 7x7)"


def _torch_region(layers, n, cell, start_layer):
    """Rows/cols of layer ``start_layer`` with nonzero gradient for the last-layer ``cell``."""
    size = n
    for k, s in layers[:start_layer]:
        size = arith.conv_output_size(size, k, s)
    x = torch.ones(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    h = x
    for k, s in layers[start_layer:]:
        h = F.conv2d(h, torch.ones(1, 1, k, k, dtype=torch.float64), stride=s)
    (g,) = torch.autograd.grad(h[0, 0, cell[0], cell[1]], x)
    nz = np.argwhere(g[0, 0].numpy() != 0)
    return sorted({int(r) for r in nz[:, 0]}), sorted({int(c) for c in nz[:, 1]}), len(nz)


@settings(max_examples=40, deadline=None)
@given(layers=st.lists(st.tuples(st.integers(1, 5), st.integers(1, 3)), min_size=1, max_size=4),
       data=st.data())
def test_receptive_field_regions_match_torch_gradients(layers, data):
    needed = ReceptiveFieldState.MIN_LAST            # smallest input leaving MIN_LAST last-layer cells
    for kernel, stride in reversed(layers):
        needed = (needed - 1) * stride + kernel
    if needed > ReceptiveFieldState.MAX_N:           # too deep to pick n automatically: a clear error
        with pytest.raises(ValueError, match="pass n explicitly"):
            ReceptiveFieldState(layers)
        state = ReceptiveFieldState(layers, n=needed)
    else:
        state = ReceptiveFieldState(layers)
        assert state.n == needed
    last = state.sizes[-1]
    assert last >= ReceptiveFieldState.MIN_LAST
    if state.n > 1:                   # n is the smallest input leaving MIN_LAST cells
        try:
            assert ReceptiveFieldState(layers, n=state.n - 1).sizes[-1] < ReceptiveFieldState.MIN_LAST
        except ValueError as err:
            assert "too small" in str(err)
    cell = (data.draw(st.integers(0, last - 1)), data.draw(st.integers(0, last - 1)))
    state = ReceptiveFieldState(layers, n=state.n, cell=cell)
    for layer in range(len(layers) + 1):
        rows, cols, count = _torch_region(state.layers, state.n, cell, layer)
        assert state.region(layer) == (rows, cols), layer
        assert count == len(rows) * len(cols)
    assert state.region_span(0) == arith.receptive_field(layers)    # the span formula, cell for cell


def test_lenet_receptive_field():
    state = ReceptiveFieldState([(5, 1), (2, 2), (5, 1), (2, 2)])
    assert state.receptive_field == 16 == state.region_span(0)
    assert state.growth() == [arith.receptive_field([(5, 1), (2, 2), (5, 1), (2, 2)][:i]) for i in range(5)]


@pytest.mark.parametrize("kwargs, pattern", [
    ({"layers": []}, "at least one"),
    ({"layers": [(3,)]}, "pair"),
    ({"layers": [(0, 1)]}, "kernel must be >= 1"),
    ({"n": 5}, "too small"),
    ({"cell": (3, 0)}, "inside the 3x3"),
])
def test_receptive_field_state_rejects_bad_input(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        ReceptiveFieldState(**kwargs)


def test_formula_strings_use_only_state_numbers():
    """The readout numbers come from the state: W, F, P, S appear in that order."""
    for n, f, p, s in [(7, 3, 0, 3), (32, 5, 2, 1), (13, 3, 1, 2)]:
        m = re.search(r"floor\(\((\d+) - (\d+) \+ 2\*(\d+)\)/(\d+)\) \+ 1 = (\d+)", ConvState(n, f, p, s).formula())
        assert tuple(int(v) for v in m.groups()) == (n, f, p, s, arith.conv_output_size(n, f, s, p))


def test_pool_formula_names_the_output_size_of_each_axis():
    """The readout says N_out (H_out, W_out when they differ), never a bare O that reads as 0."""
    assert PoolState(np.zeros((4, 4)), size=2).formula() == "N_out = floor((N - F)/S) + 1 = floor((4 - 2)/2) + 1 = 2"
    assert PoolState(np.zeros((4, 6)), size=2).formula() == ("H_out = floor((H - F)/S) + 1 = floor((4 - 2)/2) + 1 = 2;  "
                                                              "W_out = floor((W - F)/S) + 1 = floor((6 - 2)/2) + 1 = 3")
