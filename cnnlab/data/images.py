"""Image shaping, in one place: every layout change between the loaders' ``uint8 (N, H, W)``
images and what the models, the reference code and scikit-learn take.

=========================  =================================================================
:func:`to_nchw_float`      ``(N, H, W)`` or ``(N, C, H, W)`` -> ``float32 (N, C, H, W)`` NumPy
:func:`as_images`          the same, as a torch tensor (arrays or tensors in)
:func:`as_tensors`         ``(X, y)`` -> ``(float32 (N, C, H, W), int64 (N,))`` tensors, checked
:func:`flatten_images`     -> ``float32 (N, C*H*W)`` rows for scikit-learn
:func:`to_28x28`           8x8 digits enlarged to LeNet-5's 28x28 (28x28 pass through)
:func:`downsample`         ``factor x factor`` block means (28x28 -> 14x14)
:func:`shift`              translate by ``(dy, dx)`` pixels, zero fill (:func:`valid_region`)
=========================  =================================================================

Scaling rule everywhere: ``uint8`` pixels are divided by 255 (to [0, 1]); floating-point
images are kept as they are (cast to float32); anything else is a ``ValueError``.
"""
from __future__ import annotations

import numpy as np
import torch

from cnnlab.arith import check_int

__all__ = ["to_nchw_float", "as_images", "as_tensors", "flatten_images", "to_28x28", "downsample",
           "shift", "valid_region"]


def _check_images(shape: tuple, is_uint8: bool, is_float: bool, dtype, name: str) -> None:
    """``ValueError`` naming ``name`` unless ``shape`` is ``(N, H, W)`` or ``(N, C, H, W)`` with
    ``N >= 1`` and the pixels are ``uint8`` or floating point."""
    if len(shape) not in (3, 4):
        raise ValueError(f"{name} has shape {tuple(shape)}; expected images (N, H, W) or (N, C, H, W)")
    if not (is_uint8 or is_float):
        raise ValueError(f"{name}: images must be uint8 (0-255) or floating point, got {dtype}")
    if shape[0] == 0:
        raise ValueError(f"{name} holds no images")


def to_nchw_float(images, name: str = "images") -> np.ndarray:
    """``uint8`` or float images ``(N, H, W)`` or ``(N, C, H, W)`` -> ``float32 (N, C, H, W)``
    (``C = 1`` added when missing); ``uint8`` scaled to [0, 1]. ``ValueError`` naming ``name``
    for other shapes or types."""
    images = np.asarray(images)
    _check_images(images.shape, images.dtype == np.uint8, np.issubdtype(images.dtype, np.floating),
                  images.dtype, name)
    out = images.astype(np.float32)
    if images.dtype == np.uint8:
        out /= 255.0
    return out[:, None] if out.ndim == 3 else out


def as_images(X, name: str = "X") -> torch.Tensor:
    """Images (NumPy array or tensor) -> ``float32 (N, C, H, W)`` tensor, by the rules of
    :func:`to_nchw_float`; a tensor stays on its device."""
    if not isinstance(X, torch.Tensor):
        return torch.from_numpy(to_nchw_float(X, name))
    _check_images(tuple(X.shape), X.dtype == torch.uint8, X.is_floating_point(), X.dtype, name)
    X = X.float().div_(255.0) if X.dtype == torch.uint8 else X.float()
    return (X.unsqueeze(1) if X.dim() == 3 else X).contiguous()


def as_tensors(data, name: str = "data") -> tuple[torch.Tensor, torch.Tensor]:
    """``(X, y)`` -> ``(float32 (N, C, H, W) tensor, int64 (N,) tensor)``.

    Images as in :func:`as_images`; labels must be integers ``(N,)``, one per image.
    Raises ``ValueError`` naming ``name`` and the shapes otherwise.
    """
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(f"{name} must be a pair (X, y) of images and labels, got {type(data).__name__}")
    X, y = (v if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v)) for v in data)
    if y.dim() != 1 or y.is_floating_point() or y.dtype == torch.bool:
        raise ValueError(f"{name}: y must be integer class labels of shape (N,), got {y.dtype} {tuple(y.shape)}")
    if X.dim() >= 1 and len(X) != len(y):
        raise ValueError(f"{name}: X has {len(X)} images but y has {len(y)} labels "
                         f"(shapes {tuple(X.shape)} and {tuple(y.shape)}); they must match")
    return as_images(X, f"{name}: X"), y.long()


def flatten_images(X) -> np.ndarray:
    """Images ``(N, H, W)`` or ``(N, C, H, W)`` -> ``float32 (N, C*H*W)``, one row per image
    (scaled as in :func:`to_nchw_float`): what scikit-learn's classifiers take."""
    images = to_nchw_float(X, "X")
    return images.reshape(len(images), -1)


def _check_uint8_stack(images) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images of shape (N, H, W), got {images.dtype} {images.shape}")
    return images


def to_28x28(images) -> np.ndarray:
    """``uint8 (N, 28, 28)`` images for LeNet-5.

    28x28 images are returned unchanged. 8x8 images (scikit-learn's digits) have every
    pixel repeated into a 3x3 block (24x24) and 2 zero pixels added on each side, so a
    digit fills the 28x28 frame about as an MNIST digit does. Other sizes raise ``ValueError``.
    """
    images = _check_uint8_stack(images)
    if images.shape[1:] == (28, 28):
        return images
    if images.shape[1:] == (8, 8):
        big = images.repeat(3, axis=1).repeat(3, axis=2)               # (N, 24, 24)
        return np.pad(big, ((0, 0), (2, 2), (2, 2)))
    raise ValueError(f"images are {images.shape[1]}x{images.shape[2]}; LeNet-5 here takes 28x28 "
                     f"(MNIST, Fashion-MNIST) or 8x8 digits, which are enlarged to 28x28")


def downsample(images, factor: int = 2) -> np.ndarray:
    """``uint8 (N, H, W)`` images -> ``float32 (N, 1, H/factor, W/factor)`` in [0, 1], each
    output pixel the mean of a ``factor x factor`` block (28x28 -> 14x14 for ``factor=2``),
    so deep networks train in seconds on a CPU. ``ValueError`` when ``factor`` does not
    divide the image size."""
    images = _check_uint8_stack(images)
    factor = check_int("factor", factor, 1)
    n, h, w = images.shape
    if h % factor or w % factor:
        raise ValueError(f"factor {factor} does not divide the image size {h}x{w}")
    blocks = images.reshape(n, h // factor, factor, w // factor, factor).astype(np.float32)
    return (blocks.mean(axis=(2, 4)) / 255.0)[:, None]


def _check_shift(shape: tuple, dy: int, dx: int) -> tuple[int, int]:
    if len(shape) < 2:
        raise ValueError(f"need an array of images (..., H, W), got shape {shape}")
    dy, dx = check_int("dy", dy, None), check_int("dx", dx, None)
    h, w = shape[-2:]
    if abs(dy) >= h or abs(dx) >= w:
        raise ValueError(f"shift (dy={dy}, dx={dx}) moves a {h}x{w} image out of view; "
                         f"use |dy| < {h} and |dx| < {w}")
    return dy, dx


def valid_region(shape: tuple, dy: int, dx: int) -> tuple:
    """Index ``(..., rows, cols)`` of the positions of ``shift(a, dy, dx)`` (``a`` of shape
    ``shape = (..., H, W)``) that hold values of ``a``, i.e. rows ``max(dy, 0) .. H + min(dy, 0)``
    and the same for columns."""
    dy, dx = _check_shift(tuple(shape), dy, dx)
    h, w = shape[-2:]
    return (Ellipsis, slice(max(dy, 0), h + min(dy, 0)), slice(max(dx, 0), w + min(dx, 0)))


def shift(images, dy: int, dx: int) -> np.ndarray:
    """Translate ``images (..., H, W)`` by ``dy`` rows down and ``dx`` columns right
    (negative: up / left), zero-filling the uncovered border; no wrap-around::

        shift(x, dy, dx)[..., i, j] = x[..., i - dy, j - dx]   where that index exists, else 0

    Returns a new array of the same shape and dtype.
    """
    images = np.asarray(images)
    dy, dx = _check_shift(images.shape, dy, dx)
    h, w = images.shape[-2:]
    out = np.zeros_like(images)
    out[valid_region(images.shape, dy, dx)] = images[..., max(-dy, 0):h - max(dy, 0),
                                                     max(-dx, 0):w - max(dx, 0)]
    return out
