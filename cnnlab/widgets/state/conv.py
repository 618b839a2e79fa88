"""State of the convolution explorer: one setting of input size, filter, padding, stride
and dilation, and which input cells each output cell reads."""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from cnnlab import arith
from cnnlab.widgets.state.text import axis_size, format_fraction, span_text

__all__ = ["ConvState"]


@dataclass(frozen=True)
class ConvState:
    """One setting of a square ``n x n`` input, ``f x f`` filter, zero padding, stride, dilation.

    ``output_shape`` is ``(N_out, N_out)``, or ``None`` when the (dilated) filter is larger than the
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
        size, exact, message = axis_size(self.n, self.f, self.stride, self.padding, self.dilation)
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
        head = f"N_out = floor((N - {name} + 2P)/S) + 1 = floor(({w} - {fe} + 2*{p})/{s}) + 1"
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
            return (f"(N - {'F' if self.dilation == 1 else 'F_eff'} + 2P)/S + 1 = {value} is an integer: "
                    f"the window tiles the padded input exactly.")
        lost = len(self.unreached())
        where = (f"{lost} input cell{'s' if lost != 1 else ''} never reached by the window" if lost
                 else "only zero padding is left out, every input cell is reached")
        return f"{self.message}. torch floors {value} to {self.output_size}; {where}."

    def describe_step(self, step: int) -> str:
        """What output cell ``step`` reads, e.g. ``output (0, 1) reads input rows 0-2, cols 2-4``."""
        i, j = self.position(step)
        rows, cols = self.window(i, j)
        text = (f"output ({i}, {j}) reads input rows {span_text(rows)}, cols {span_text(cols)}"
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
