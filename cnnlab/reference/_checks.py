"""Input checks shared by the reference layers: one clear message per mistake."""
from __future__ import annotations

import numpy as np


def as_float_array(name: str, value, ndim: int | tuple[int, ...] | None = None,
                   layout: str = "") -> np.ndarray:
    """Return ``value`` as a floating-point array, raising if its rank is not ``ndim``.

    Integer arrays are rejected rather than silently converted: a gradient of an
    ``int`` array is almost always a bug (e.g. a uint8 image not yet scaled).
    """
    array = np.asarray(value)
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"{name} must be a float array, got dtype {array.dtype}; "
                        f"convert it first, e.g. {name}.astype(np.float32)")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if array.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {want}{' ' + layout if layout else ''}, "
                             f"got shape {array.shape}")
    return array


def check_same_shape(name: str, array: np.ndarray, shape: tuple[int, ...]) -> None:
    """Raise if ``array.shape != shape`` (used for upstream gradients ``dout``)."""
    if array.shape != tuple(shape):
        raise ValueError(f"{name} has shape {array.shape} but the forward pass produced "
                         f"{tuple(shape)}; pass the gradient of that output")
