"""Text and sizes shared by the state models: numbers as the lecture prints them, index
ranges in words, and one axis's output size from :mod:`cnnlab.arith`."""
from __future__ import annotations

from fractions import Fraction

from cnnlab import arith

__all__ = ["format_fraction", "format_number", "span_text", "axis_size"]


def format_fraction(value: Fraction) -> str:
    """``3`` for an integer, else two decimals (``2.33``), as in the lecture."""
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.2f}"


def format_number(v: float) -> str:
    """Short number text: ``6`` for 6.0, ``2.5`` for 2.5, ``2.33`` for 2.333."""
    return str(int(v)) if float(v).is_integer() else f"{v:.3g}"


def span_text(r: range) -> str:
    return f"{r.start}" if len(r) == 1 else f"{r.start} to {r[-1]}"


def axis_size(n: int, f: int, stride: int, padding: int, dilation: int = 1):
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
