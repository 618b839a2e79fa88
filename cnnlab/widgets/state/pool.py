"""State of the pooling explorer: one 2-D slice pooled with a window, its values and the
routing of the gradient, both computed by :mod:`cnnlab.reference.pool`."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cnnlab import arith
from cnnlab.reference.pool import avgpool_backward, avgpool_forward, maxpool_backward, maxpool_forward
from cnnlab.widgets.state.text import axis_size, format_number, span_text

__all__ = ["PoolState", "LECTURE_POOL_INPUT"]

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
        axes = [axis_size(n, self.size, stride, 0) for n in x.shape]
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

    def _forward(self):
        """``(out, cache)`` of the reference layer on ``x`` as a ``(1, 1, H, W)`` batch (sizes floored)."""
        forward = maxpool_forward if self.mode == "max" else avgpool_forward
        return forward(self.x[None, None], self.size, self.stride, strict=False)

    def argmax(self, i: int, j: int) -> tuple[int, int]:
        """Input cell that max pooling picks for output ``(i, j)`` (first maximum on ties): where
        :func:`cnnlab.reference.maxpool_backward` sends a gradient of 1 at ``(i, j)``."""
        self.window(i, j)                                  # IndexError outside the output
        dout = np.zeros(self.output_shape)
        dout[i, j] = 1.0
        grad = maxpool_backward(dout[None, None], self._forward()[1])[0, 0]
        r, c = np.argwhere(grad)[0]
        return int(r), int(c)

    @property
    def output(self) -> np.ndarray:
        """Pooled values, float64 array of ``output_shape`` (empty (0, 0) when invalid)."""
        if not self.valid:
            return np.zeros((0, 0))
        return self._forward()[0][0, 0]

    def input_gradient(self, dout: np.ndarray | None = None) -> np.ndarray:
        """dL/dx for upstream gradient ``dout`` (ones by default), shape of ``x``, from
        :func:`cnnlab.reference.maxpool_backward` / ``avgpool_backward``.

        Max: each output's gradient goes only to its :meth:`argmax` cell (counts add up when
        overlapping windows pick the same cell). Average: spread as ``dout / size**2``.
        """
        if not self.valid:
            return np.zeros_like(self.x)
        dout = np.ones(self.output_shape) if dout is None else np.asarray(dout, dtype=np.float64)
        if dout.shape != self.output_shape:
            raise ValueError(f"dout must have the output shape {self.output_shape}, got {dout.shape}")
        backward = maxpool_backward if self.mode == "max" else avgpool_backward
        return backward(dout[None, None], self._forward()[1])[0, 0]

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
        axes = [("N", w, self._axes[1])] if h == w else [("H", h, self._axes[0]), ("W", w, self._axes[1])]
        lines = []
        for sub, n, (size, _, _) in axes:
            head = f"{sub}_out = floor(({sub} - F)/S) + 1 = floor(({n} - {self.size})/{self.stride}) + 1"
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
        text = f"output ({i}, {j}) pools rows {span_text(rows)}, cols {span_text(cols)}: "
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
