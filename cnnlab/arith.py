"""The lecture's arithmetic of convolution, in one place.

Used by the NumPy reference, the torch models and the widgets alike.

Output size (lecture, "A Closer Look at Convolution" and the Conv Layer summary)::

    N_out = floor((N - F_eff + 2P) / S) + 1,     F_eff = D*(F - 1) + 1   (dilation D, usually 1)

torch and pooling layers floor a size that does not fit; with ``strict=True`` such a
size is an error whose message shows the arithmetic, as in the lecture's example
``(7 - 3 + 2*0)/3 + 1 = 2.33``.

Parameter count of a conv layer with K filters of size F x F x D1: ``F*F*D1*K + K``.

Receptive field of a stack of layers ``(kernel_i, stride_i)``::

    r_0 = 1,  j_0 = 1,   r_i = r_{i-1} + (k_i - 1) * j_{i-1},   j_i = j_{i-1} * s_i

so three 3x3 stride-1 layers see 7x7 (the VGG argument).
"""
from __future__ import annotations

from fractions import Fraction
from typing import Iterable, Sequence

__all__ = [
    "conv_output_size", "conv_output_shape", "pool_output_size", "conv_param_count",
    "conv_mult_adds", "receptive_field", "effective_filter_size", "same_padding",
    "window_span", "check_int",
]


def check_int(name: str, value, minimum: int | None) -> int:
    """``value`` as an ``int`` >= ``minimum`` (any integer when ``minimum`` is None);
    ``TypeError``/``ValueError`` naming ``name`` otherwise."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def effective_filter_size(f: int, dilation: int = 1) -> int:
    """Span of a dilated filter: ``dilation * (f - 1) + 1`` (equals ``f`` when dilation is 1)."""
    f = check_int("filter size f", f, 1)
    dilation = check_int("dilation", dilation, 1)
    return dilation * (f - 1) + 1


def conv_output_size(n: int, f: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1, strict: bool = False) -> int:
    """Output length along one axis: ``floor((n - f_eff + 2*padding) / stride) + 1``.

    Parameters
    ----------
    n : input size N along this axis (>= 1)
    f : filter size F (>= 1)
    stride : S (>= 1)
    padding : P zeros added on each side (>= 0)
    dilation : spacing between filter taps (>= 1); ``f_eff = dilation*(f-1)+1``
    strict : if True, raise ``ValueError`` when ``(n - f_eff + 2P)/S`` is not an
        integer (the filter would not tile the input exactly), instead of flooring.

    Raises ``ValueError`` naming the offending value when the filter is larger
    than the padded input, the stride is 0, or a size is negative.
    """
    n = check_int("input size n", n, 1)
    stride = check_int("stride", stride, 1)
    padding = check_int("padding", padding, 0)
    f_eff = effective_filter_size(f, dilation)
    span = n - f_eff + 2 * padding
    if span < 0:
        what = f"filter size {f}" if dilation == 1 else f"dilated filter size {f_eff} (f={f}, dilation={dilation})"
        raise ValueError(
            f"{what} is larger than the padded input {n} + 2*{padding} = {n + 2 * padding}; "
            f"use a smaller filter or more padding"
        )
    if strict and span % stride:
        raise ValueError(_not_integer_message(n, f_eff, stride, padding))
    return span // stride + 1


def _not_integer_message(n: int, f: int, stride: int, padding: int) -> str:
    exact = Fraction(n - f + 2 * padding, stride) + 1
    fits = [s for s in range(1, n + 2 * padding - f + 1) if (n - f + 2 * padding) % s == 0]
    pads = [p for p in range(0, f + 1) if (n - f + 2 * p) >= 0 and (n - f + 2 * p) % stride == 0]
    hint = f"strides that fit: {fits}" if fits else "no stride fits"
    if pads:
        hint += f"; with stride {stride}, padding {pads[0]} fits"
    return (
        f"(N - F + 2P)/S + 1 = ({n} - {f} + 2*{padding})/{stride} + 1 = {float(exact):.2f} "
        f"is not an integer: a {f}x{f} filter with stride {stride} does not tile a "
        f"{n}x{n} input padded by {padding} ({hint})"
    )


def conv_output_shape(hw: Sequence[int], f: int | Sequence[int], stride: int = 1,
                      padding: int = 0, dilation: int = 1, strict: bool = False) -> tuple[int, int]:
    """``(H_out, W_out)`` for an input of spatial size ``hw = (H, W)``; ``f`` may be ``(FH, FW)``."""
    fh, fw = (f, f) if isinstance(f, int) else tuple(f)
    h, w = hw
    return (conv_output_size(h, fh, stride, padding, dilation, strict),
            conv_output_size(w, fw, stride, padding, dilation, strict))


def pool_output_size(n: int, size: int = 2, stride: int | None = None, padding: int = 0,
                     strict: bool = False) -> int:
    """Pooling output length: the conv formula with ``f = size`` and ``stride`` defaulting to ``size``.

    Like ``torch.nn.MaxPool2d`` (``ceil_mode=False``), sizes that do not fit are
    floored unless ``strict``. torch also requires ``padding <= size // 2``; so do we.
    """
    size = check_int("pool size", size, 1)
    stride = size if stride is None else stride
    padding = check_int("padding", padding, 0)
    if padding > size // 2:
        raise ValueError(f"padding {padding} is more than half the pool size {size}; "
                         f"use padding <= {size // 2}")
    return conv_output_size(n, size, stride, padding, strict=strict)


def conv_param_count(f: int, d_in: int, k: int, bias: bool = True) -> int:
    """Learnable parameters of a conv layer: ``F*F*D1*K`` weights plus ``K`` biases."""
    f = check_int("filter size f", f, 1)
    d_in = check_int("input depth d_in", d_in, 1)
    k = check_int("number of filters k", k, 1)
    return f * f * d_in * k + (k if bias else 0)


def conv_mult_adds(out_hw: Sequence[int], f: int, d_in: int, k: int) -> int:
    """Multiply-adds of a conv layer: each of ``H_out*W_out*K`` outputs costs ``F*F*D1``."""
    h, w = out_hw
    return int(h) * int(w) * int(k) * f * f * int(d_in)


def receptive_field(layers: Iterable[Sequence[int]]) -> int:
    """Receptive field (in input pixels, along one axis) of a stack of ``(kernel, stride)`` layers.

    >>> receptive_field([(3, 1)] * 3)
    7
    >>> receptive_field([(5, 1), (2, 2), (5, 1), (2, 2)])   # LeNet-5's C1, S2, C3, S4
    16
    """
    field, jump = 1, 1
    for i, layer in enumerate(layers):
        try:
            kernel, stride = layer
        except (TypeError, ValueError):
            raise ValueError(f"layer {i} must be a (kernel, stride) pair, got {layer!r}") from None
        kernel = check_int(f"layer {i} kernel", kernel, 1)
        stride = check_int(f"layer {i} stride", stride, 1)
        field += (kernel - 1) * jump
        jump *= stride
    return field


def same_padding(f: int) -> int:
    """Padding ``(F - 1)/2`` that keeps the size at stride 1 (the lecture: F=3 -> 1, 5 -> 2, 7 -> 3)."""
    f = check_int("filter size f", f, 1)
    if f % 2 == 0:
        raise ValueError(f"filter size {f} is even: no symmetric padding keeps the size; "
                         f"use an odd filter size")
    return (f - 1) // 2


def window_span(out_index: int, f: int, stride: int = 1, padding: int = 0,
                dilation: int = 1) -> range:
    """Input indices (in *unpadded* coordinates; negative or >= N means padding) that
    output position ``out_index`` reads along one axis: ``i*S - P + d*D`` for ``d < F``."""
    start = out_index * stride - padding
    return range(start, start + dilation * (f - 1) + 1, dilation)
