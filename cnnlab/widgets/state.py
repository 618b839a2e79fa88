"""Pure-Python state models under the explorers (lecture: "A Closer Look at Convolution",
"Max Pooling", and the VGG argument for stacks of 3x3 layers).

No widgets and no drawing here: a state is a frozen description of one setting
(parameters -> output shape, validity, which input cells each output cell reads),
so it can be tested without a browser. Every size comes from :mod:`cnnlab.arith`::

    O = floor((N - F_eff + 2P) / S) + 1,     F_eff = D*(F - 1) + 1

Coordinates: ``(row, col)`` of the *unpadded* input, so padding cells have an index
``< 0`` or ``>= N``; add ``padding`` to get the index in the padded grid. Output
cells are visited in raster order (row by row), which is the order of the step control.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from cnnlab import arith

__all__ = ["ConvState", "PoolState", "ReceptiveFieldState", "format_fraction", "format_number"]


def format_fraction(value: Fraction) -> str:
    """``3`` for an integer, else two decimals (``2.33``), as in the lecture."""
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.2f}"


def _span_text(r: range) -> str:
    return f"{r.start}" if len(r) == 1 else f"{r.start} to {r[-1]}"


def _axis_size(n: int, f: int, stride: int, padding: int, dilation: int = 1):
    """``(size or None, exact, message)`` along one axis, all from :func:`arith.conv_output_size`."""
    try:
        size = arith.conv_output_size(n, f, stride, padding, dilation)
    except ValueError as err:          # filter larger than the padded input
        return None, False, str(err)
    try:
        arith.conv_output_size(n, f, stride, padding, dilation, strict=True)
    except ValueError as err:          # does not tile exactly: arith's strict message
        return size, False, str(err)
    return size, True, None


@dataclass(frozen=True)
class ConvState:
    """One setting of a square ``n x n`` input, ``f x f`` filter, zero padding, stride, dilation.

    ``output_shape`` is ``(O, O)``, or ``None`` when the (dilated) filter is larger than the
    padded input (``error`` says why). ``exact`` is False when ``(N - F_eff + 2P)/S`` is not an
    integer; ``message`` is then :mod:`cnnlab.arith`'s strict error text and some input cells
    are never reached by the window (:meth:`unreached`).
    """

    n: int = 7
    f: int = 3
    padding: int = 0
    stride: int = 1
    dilation: int = 1
    output_size: int | None = field(init=False)
    exact: bool = field(init=False)
    message: str | None = field(init=False)

    def __post_init__(self):
        for name, minimum in (("n", 1), ("f", 1), ("padding", 0), ("stride", 1), ("dilation", 1)):
            object.__setattr__(self, name, arith.check_int(name, getattr(self, name), minimum))
        size, exact, message = _axis_size(self.n, self.f, self.stride, self.padding, self.dilation)
        object.__setattr__(self, "output_size", size)
        object.__setattr__(self, "exact", exact)
        object.__setattr__(self, "message", message)

    # ----- sizes -------------------------------------------------------------------------
    @property
    def valid(self) -> bool:
        """True when there is an output (the window fits the padded input at least once)."""
        return self.output_size is not None

    @property
    def error(self) -> str | None:
        """Why there is no output (arith's message), or None."""
        return None if self.valid else self.message

    @property
    def output_shape(self) -> tuple[int, int] | None:
        return None if self.output_size is None else (self.output_size, self.output_size)

    @property
    def f_eff(self) -> int:
        return arith.effective_filter_size(self.f, self.dilation)

    @property
    def padded_size(self) -> int:
        return self.n + 2 * self.padding

    @property
    def exact_value(self) -> Fraction:
        """``(N - F_eff + 2P)/S + 1`` before flooring, e.g. ``Fraction(7, 3)`` for 7, 3, stride 3."""
        return Fraction(self.n - self.f_eff + 2 * self.padding, self.stride) + 1

    @property
    def num_steps(self) -> int:
        """Number of output cells, i.e. window positions (0 when invalid)."""
        return 0 if self.output_size is None else self.output_size ** 2

    def position(self, step: int) -> tuple[int, int]:
        """Output cell ``(i, j)`` visited at ``step`` (raster order)."""
        if not 0 <= step < self.num_steps:
            raise IndexError(f"step {step} is outside 0..{self.num_steps - 1} "
                             f"({self.output_shape} output cells)")
        return divmod(step, self.output_size)

    # ----- windows -----------------------------------------------------------------------
    def window(self, i: int, j: int) -> tuple[range, range]:
        """Input rows and columns (unpadded coordinates, taps ``D`` apart) read by output ``(i, j)``."""
        o = self.output_size or 0
        if not (0 <= i < o and 0 <= j < o):
            raise IndexError(f"output cell ({i}, {j}) is outside the output {self.output_shape}")
        return (arith.window_span(i, self.f, self.stride, self.padding, self.dilation),
                arith.window_span(j, self.f, self.stride, self.padding, self.dilation))

    def reads(self, i: int, j: int, include_padding: bool = False) -> list[tuple[int, int]]:
        """Input cells that output ``(i, j)`` multiplies by a filter tap (row-major order)."""
        rows, cols = self.window(i, j)
        inside = lambda k: 0 <= k < self.n  # noqa: E731
        return [(r, c) for r in rows for c in cols if include_padding or (inside(r) and inside(c))]

    def coverage(self) -> np.ndarray:
        """``(N+2P, N+2P)`` int array (padded coordinates): how many windows read each cell."""
        cover = np.zeros((self.padded_size, self.padded_size), dtype=np.int64)
        p = self.padding
        for step in range(self.num_steps):
            rows, cols = self.window(*self.position(step))
            cover[np.ix_([r + p for r in rows], [c + p for c in cols])] += 1
        return cover

    def unreached(self) -> list[tuple[int, int]]:
        """Real input cells (not padding) that no window position ever reads."""
        p = self.padding
        cover = self.coverage()[p:p + self.n, p:p + self.n]
        return [tuple(int(k) for k in rc) for rc in np.argwhere(cover == 0)]

    # ----- text --------------------------------------------------------------------------
    def formula(self) -> str:
        """The output-size formula with the numbers filled in, one line."""
        w, fe, p, s = self.n, self.f_eff, self.padding, self.stride
        name = "F" if self.dilation == 1 else "F_eff"
        head = f"O = floor((W - {name} + 2P)/S) + 1 = floor(({w} - {fe} + 2*{p})/{s}) + 1"
        if self.output_size is None:
            return f"{head} -> no output ({w} - {fe} + 2*{p} = {w - fe + 2 * p} < 0)"
        return f"{head} = {self.output_size}"

    def dilation_formula(self) -> str | None:
        """``F_eff = D*(F - 1) + 1 = ...`` when dilation is not 1, else None."""
        if self.dilation == 1:
            return None
        return f"F_eff = D*(F - 1) + 1 = {self.dilation}*({self.f} - 1) + 1 = {self.f_eff}"

    def exactness(self) -> str:
        """Plain-language verdict: exact, not an integer (with arith's message), or no output."""
        if not self.valid:
            return f"No output: {self.message}."
        value = format_fraction(self.exact_value)
        if self.exact:
            return (f"(W - {'F' if self.dilation == 1 else 'F_eff'} + 2P)/S + 1 = {value} is an integer: "
                    f"the window tiles the padded input exactly.")
        lost = len(self.unreached())
        where = (f"{lost} input cell{'s' if lost != 1 else ''} never reached by the window" if lost
                 else "only zero padding is left out, every input cell is reached")
        return f"{self.message}. torch floors {value} to {self.output_size}; {where}."

    def describe_step(self, step: int) -> str:
        """What output cell ``step`` reads, e.g. ``output (0, 1) reads input rows 0-2, cols 2-4``."""
        i, j = self.position(step)
        rows, cols = self.window(i, j)
        text = (f"output ({i}, {j}) reads input rows {_span_text(rows)}, cols {_span_text(cols)}"
                + (f" every {self.dilation}th cell" if self.dilation > 1 else ""))
        pad = len(self.reads(i, j, include_padding=True)) - len(self.reads(i, j))
        if pad:
            text += f" ({pad} of the {self.f * self.f} taps fall on zero padding)"
        return text

    @property
    def text(self) -> str:
        """Stable one-line form, e.g. ``ConvExplorer(n=7, f=3, padding=0, stride=2 -> 3x3)``."""
        args = f"n={self.n}, f={self.f}, padding={self.padding}, stride={self.stride}"
        if self.dilation != 1:
            args += f", dilation={self.dilation}"
        if not self.valid:
            result = "no output"
        else:
            result = f"{self.output_size}x{self.output_size}"
            if not self.exact:
                result += f", floored from {format_fraction(self.exact_value)}"
        return f"ConvExplorer({args} -> {result})"


_POOL_MODES = ("max", "avg")

#: The lecture's single depth slice for max pooling ("Max Pooling" slide).
LECTURE_POOL_INPUT = np.array([[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]], dtype=np.float64)


@dataclass(frozen=True, eq=False)
class PoolState:
    """Pooling of one 2-D slice ``x`` (H, W) with a ``size x size`` window (no padding).

    ``output`` is the (H_out, W_out) result of max or average pooling, like
    ``torch.nn.functional.max_pool2d`` / ``avg_pool2d`` (sizes floored). For max pooling,
    :meth:`argmax` is the input cell each output picks (ties: the first maximum in
    row-major order, as torch does) and :meth:`input_gradient` routes the gradient.
    """

    x: np.ndarray = field(default_factory=lambda: LECTURE_POOL_INPUT.copy())
    size: int = 2
    stride: int | None = None
    mode: str = "max"
    _axes: list = field(init=False, repr=False)

    def __post_init__(self):
        x = np.array(self.x, dtype=np.float64)          # copy: the state never aliases the caller
        if x.ndim != 2 or x.size == 0:
            raise ValueError(f"x must be a non-empty 2-D array (one H x W slice), got shape {x.shape}; "
                             f"pick one slice, e.g. x[0, 0] of an NCHW batch")
        if not np.all(np.isfinite(x)):
            raise ValueError("x must hold finite numbers (no NaN or inf)")
        x.setflags(write=False)
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "size", arith.check_int("size", self.size, 1))
        stride = self.size if self.stride is None else arith.check_int("stride", self.stride, 1)
        object.__setattr__(self, "stride", stride)
        if self.mode not in _POOL_MODES:
            raise ValueError(f"mode must be one of {_POOL_MODES}, got {self.mode!r}")
        axes = [_axis_size(n, self.size, stride, 0) for n in x.shape]
        object.__setattr__(self, "_axes", axes)

    @property
    def valid(self) -> bool:
        return all(size is not None for size, _, _ in self._axes)

    @property
    def exact(self) -> bool:
        return all(exact for _, exact, _ in self._axes)

    @property
    def message(self) -> str | None:
        """arith's message for the first axis that is invalid or not exact (None when exact)."""
        for _, _, message in self._axes:
            if message:
                return message
        return None

    @property
    def output_shape(self) -> tuple[int, int] | None:
        return tuple(size for size, _, _ in self._axes) if self.valid else None

    @property
    def num_steps(self) -> int:
        return 0 if not self.valid else math.prod(self.output_shape)

    def position(self, step: int) -> tuple[int, int]:
        if not 0 <= step < self.num_steps:
            raise IndexError(f"step {step} is outside 0..{self.num_steps - 1}")
        return divmod(step, self.output_shape[1])

    def window(self, i: int, j: int) -> tuple[range, range]:
        """Input rows and columns pooled into output ``(i, j)``."""
        if not self.valid or not (0 <= i < self.output_shape[0] and 0 <= j < self.output_shape[1]):
            raise IndexError(f"output cell ({i}, {j}) is outside the output {self.output_shape}")
        return (arith.window_span(i, self.size, self.stride), arith.window_span(j, self.size, self.stride))

    def argmax(self, i: int, j: int) -> tuple[int, int]:
        """Input cell that max pooling picks for output ``(i, j)`` (first maximum on ties)."""
        rows, cols = self.window(i, j)
        patch = self.x[rows.start:rows.stop, cols.start:cols.stop]
        r, c = np.unravel_index(int(np.argmax(patch)), patch.shape)   # argmax: first maximum
        return rows.start + int(r), cols.start + int(c)

    @property
    def output(self) -> np.ndarray:
        """Pooled values, float64 array of ``output_shape`` (empty (0, 0) when invalid)."""
        if not self.valid:
            return np.zeros((0, 0))
        out = np.empty(self.output_shape)
        for step in range(self.num_steps):
            i, j = self.position(step)
            rows, cols = self.window(i, j)
            patch = self.x[rows.start:rows.stop, cols.start:cols.stop]
            out[i, j] = patch.max() if self.mode == "max" else patch.mean()
        return out

    def input_gradient(self, dout: np.ndarray | None = None) -> np.ndarray:
        """dL/dx for upstream gradient ``dout`` (ones by default), shape of ``x``.

        Max: each output's gradient goes only to its :meth:`argmax` cell (counts add up when
        overlapping windows pick the same cell). Average: spread as ``dout / size**2``.
        """
        dx = np.zeros_like(self.x)
        if not self.valid:
            return dx
        dout = np.ones(self.output_shape) if dout is None else np.asarray(dout, dtype=np.float64)
        if dout.shape != self.output_shape:
            raise ValueError(f"dout must have the output shape {self.output_shape}, got {dout.shape}")
        for step in range(self.num_steps):
            i, j = self.position(step)
            if self.mode == "max":
                dx[self.argmax(i, j)] += dout[i, j]
            else:
                rows, cols = self.window(i, j)
                dx[rows.start:rows.stop, cols.start:cols.stop] += dout[i, j] / self.size ** 2
        return dx

    def unreached(self) -> list[tuple[int, int]]:
        """Input cells in no pooling window (the floored-away border)."""
        seen = np.zeros(self.x.shape, dtype=bool)
        for step in range(self.num_steps):
            rows, cols = self.window(*self.position(step))
            seen[rows.start:rows.stop, cols.start:cols.stop] = True
        return [tuple(int(k) for k in rc) for rc in np.argwhere(~seen)]

    def formula(self) -> str:
        """Output-size formula with numbers (one per axis when H != W)."""
        h, w = self.x.shape
        axes = [("", w, self._axes[1])] if h == w else [("_H", h, self._axes[0]), ("_W", w, self._axes[1])]
        lines = []
        for sub, n, (size, _, _) in axes:
            head = f"O{sub} = floor((W - F)/S) + 1 = floor(({n} - {self.size})/{self.stride}) + 1"
            if sub == "_H":
                head = head.replace("(W - F)", "(H - F)")
            lines.append(f"{head} = {size}" if size is not None else f"{head} -> no output")
        return ";  ".join(lines)

    def exactness(self) -> str:
        if not self.valid:
            return f"No output: {self.message}."
        if self.exact:
            return "The windows tile the input exactly."
        lost = len(self.unreached())
        return (f"{self.message}. torch floors it; {lost} input cell"
                f"{'s' if lost != 1 else ''} in no window.")

    def describe_step(self, step: int) -> str:
        i, j = self.position(step)
        rows, cols = self.window(i, j)
        values = ", ".join(format_number(v) for v in self.x[rows.start:rows.stop, cols.start:cols.stop].ravel())
        text = f"output ({i}, {j}) pools rows {_span_text(rows)}, cols {_span_text(cols)}: "
        if self.mode == "max":
            r, c = self.argmax(i, j)
            return text + f"max({values}) = {format_number(self.output[i, j])}, taken from input ({r}, {c})"
        return text + f"mean({values}) = {format_number(self.output[i, j])}"

    @property
    def text(self) -> str:
        """One line, e.g. ``PoolExplorer(x=4x4, size=2, stride=2, mode='max' -> 2x2)``."""
        h, w = self.x.shape
        args = f"x={h}x{w}, size={self.size}, stride={self.stride}, mode={self.mode!r}"
        if not self.valid:
            return f"PoolExplorer({args} -> no output)"
        oh, ow = self.output_shape
        return f"PoolExplorer({args} -> {oh}x{ow}{'' if self.exact else ', floored'})"


def format_number(v: float) -> str:
    """Short number text: ``6`` for 6.0, ``2.5`` for 2.5, ``2.33`` for 2.333."""
    return str(int(v)) if float(v).is_integer() else f"{v:.3g}"


@dataclass(frozen=True)
class ReceptiveFieldState:
    """A stack of ``(kernel, stride)`` layers without padding, and one cell of its last layer.

    ``sizes[l]`` is the side of layer ``l`` (``sizes[0] = n``, the input). :meth:`region`
    gives, per layer, the rows and columns the chosen cell depends on; on the input it spans
    ``receptive_field`` cells (:func:`cnnlab.arith.receptive_field`), e.g. 7 for three 3x3 layers.
    """

    layers: tuple = ((3, 1),) * 3
    n: int | None = None
    cell: tuple | None = None
    sizes: tuple = field(init=False)

    #: Default input size: the smallest that leaves a last layer of at least this side.
    MIN_LAST = 3
    MAX_N = 256

    def __post_init__(self):
        layers = tuple(self.layers)
        if not layers:
            raise ValueError("layers must hold at least one (kernel, stride) pair, e.g. [(3, 1)] * 3")
        arith.receptive_field(layers)                 # validates every (kernel, stride) pair
        layers = tuple((int(k), int(s)) for k, s in layers)
        object.__setattr__(self, "layers", layers)
        n = self.n
        if n is None:
            n = next((m for m in range(1, self.MAX_N + 1) if (self._sizes(layers, m) or [0])[-1] >= self.MIN_LAST),
                     None)
            if n is None:
                raise ValueError(f"no input up to {self.MAX_N} pixels leaves a {self.MIN_LAST}-cell last layer "
                                 f"for layers {list(layers)}; pass n explicitly")
        n = arith.check_int("n", n, 1)
        sizes = self._sizes(layers, n)
        if sizes is None:
            raise ValueError(f"an input of {n} pixels is too small for layers {list(layers)}: "
                             f"use n >= {arith.receptive_field(layers)}")
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "sizes", tuple(sizes))
        last = sizes[-1]
        cell = ((last - 1) // 2, (last - 1) // 2) if self.cell is None else tuple(self.cell)
        if len(cell) != 2 or not all(0 <= int(c) < last for c in cell):
            raise ValueError(f"cell must be (row, col) inside the {last}x{last} last layer, got {self.cell!r}")
        object.__setattr__(self, "cell", (int(cell[0]), int(cell[1])))

    @staticmethod
    def _sizes(layers, n):
        sizes = [n]
        for k, s in layers:
            try:
                sizes.append(arith.conv_output_size(sizes[-1], k, s))
            except ValueError:
                return None
        return sizes

    @property
    def receptive_field(self) -> int:
        return arith.receptive_field(self.layers)

    @property
    def output_shape(self) -> tuple[int, int]:
        """Shape of the last layer."""
        return (self.sizes[-1], self.sizes[-1])

    def _axis_region(self, index: int) -> list[list[int]]:
        """Per layer (input first), the sorted indices along one axis the last-layer ``index`` depends on."""
        needed = [[index]]
        for k, s in reversed(self.layers):
            below = sorted({r for i in needed[0] for r in arith.window_span(i, k, s)})
            needed.insert(0, below)
        return needed

    def region(self, layer: int) -> tuple[list[int], list[int]]:
        """Rows and columns of layer ``layer`` (0 = input) that the chosen cell depends on."""
        if not 0 <= layer <= len(self.layers):
            raise IndexError(f"layer {layer} is outside 0..{len(self.layers)}")
        return self._axis_region(self.cell[0])[layer], self._axis_region(self.cell[1])[layer]

    def region_span(self, layer: int) -> int:
        """Extent (first to last, inclusive) of the region on layer ``layer`` along one axis."""
        rows, _ = self.region(layer)
        return rows[-1] - rows[0] + 1

    def growth(self) -> list[int]:
        """Receptive field after each prefix of the stack: ``[1, 3, 5, 7]`` for three 3x3 layers."""
        return [arith.receptive_field(self.layers[:i]) for i in range(len(self.layers) + 1)]

    def stack_weights(self, channels: int) -> int:
        """Weights of the stack with ``channels`` in and out of every layer (no biases)."""
        return sum(arith.conv_param_count(k, channels, channels, bias=False) for k, _ in self.layers)

    def single_layer_weights(self, channels: int) -> int:
        """Weights of one layer whose filter covers the whole receptive field at once."""
        return arith.conv_param_count(self.receptive_field, channels, channels, bias=False)

    def weights_text(self, channels: int) -> str:
        """``3 layers: 3*3*3 C^2 = 27C^2 = ... weights vs one 7x7 layer: 49C^2 = ...``."""
        a, b = self.stack_weights(1), self.single_layer_weights(1)
        kernels = " + ".join(f"{k}*{k}" for k, _ in self.layers)
        r = self.receptive_field
        return (f"{len(self.layers)} layer{'s' if len(self.layers) > 1 else ''} ({kernels}) C^2 = {a}C^2 = "
                f"{self.stack_weights(channels):,} weights vs one {r}x{r} layer: {b}C^2 = "
                f"{self.single_layer_weights(channels):,} (C = {channels})")

    def formula(self) -> str:
        r = self.growth()
        return ("r_0 = 1, r_i = r_(i-1) + (k_i - 1)*j_(i-1), j_i = j_(i-1)*s_i: "
                + " -> ".join(str(v) for v in r) + f"; receptive field {r[-1]}x{r[-1]}")

    @property
    def text(self) -> str:
        """One line, e.g. ``ReceptiveFieldExplorer(layers=[(3, 1), (3, 1), (3, 1)] -> 7x7)``."""
        r = self.receptive_field
        return f"ReceptiveFieldExplorer(layers={list(self.layers)} -> {r}x{r})"
