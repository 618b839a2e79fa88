"""Experiments of lecture notebook 03 (lecture: "Convolutional Neural Networks: shift
invariances and locality", "A Closer Look at Convolution").

Shift equivariance is measured with :func:`cnnlab.data.shift` and
:func:`cnnlab.data.valid_region` (shared with notebook 04's pooling experiment): for a
convolution with stride 1 and no padding, ``conv(shift(x, dy, dx)) == shift(conv(x), dy, dx)``
on ``valid_region``.

Timing: :func:`best_time` is the minimum wall time of several calls, the usual way to time
a short computation (the minimum is the run least disturbed by other work on the machine).
"""
from __future__ import annotations

import time
from typing import Callable

from cnnlab.arith import check_int

__all__ = ["best_time"]


def best_time(fn: Callable[[], object], repeat: int = 3) -> float:
    """Minimum wall time in seconds (``time.perf_counter``) of ``repeat`` calls of ``fn()``."""
    repeat = check_int("repeat", repeat, 1)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
