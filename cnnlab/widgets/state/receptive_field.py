"""State of the receptive-field explorer: a stack of ``(kernel, stride)`` layers and the
region of every layer that one cell of the last layer depends on."""
from __future__ import annotations

from dataclasses import dataclass, field

from cnnlab import arith

__all__ = ["ReceptiveFieldState"]


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
