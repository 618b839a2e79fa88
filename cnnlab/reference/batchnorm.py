"""Batch normalization (lecture: "Batch Normalization", Algorithm 2, and "BatchNorm at
Test"; Ioffe and Szegedy 2015).

Shapes: ``x`` is ``(N, D)`` (statistics per feature, over the batch) or
``(N, C, H, W)`` (statistics per channel, over the batch and all positions, so
``m = N*H*W`` values per channel); ``gamma``, ``beta`` and the running statistics
have one entry per feature/channel.

Train mode, for each feature over its ``m`` values (Algorithm 2)::

    mu = mean(x)      var = mean((x - mu)**2)      xhat = (x - mu) / sqrt(var + eps)
    out = gamma * xhat + beta

and the running statistics move towards the batch's, exactly as ``torch.nn.BatchNorm``
does (note the unbiased variance in the running average)::

    running_mean <- (1 - momentum) * running_mean + momentum * mu
    running_var  <- (1 - momentum) * running_var  + momentum * var * m / (m - 1)

Test mode normalizes with the running statistics instead ("a single fixed empirical
mean of activations during training is used") and leaves them untouched. The mode is
the ``train`` argument, never inferred.

Backward in train mode (the batch statistics depend on every input)::

    dxhat = dout * gamma
    dx    = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / sqrt(var + eps)
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from cnnlab.reference._checks import as_float_array, check_same_shape

__all__ = ["batchnorm_forward", "batchnorm_backward", "batchnorm_init", "BatchNormCache"]


class BatchNormCache(NamedTuple):
    """Normalized input, scale, ``1/sqrt(var + eps)`` (broadcastable), reduction axes, mode."""
    xhat: np.ndarray
    gamma: np.ndarray
    inv_std: np.ndarray
    axes: tuple[int, ...]
    train: bool


def batchnorm_init(num_features: int, dtype=np.float64):
    """torch's initial state for ``num_features`` features (channels): ``gamma = 1``,
    ``beta = 0``, running mean 0 and variance 1.

    Returns ``(gamma (D,), beta (D,), running)`` with ``running = {"mean": (D,), "var": (D,)}``,
    ``D = num_features``."""
    return (np.ones(num_features, dtype), np.zeros(num_features, dtype),
            {"mean": np.zeros(num_features, dtype), "var": np.ones(num_features, dtype)})


def _feature_view(v: np.ndarray, ndim: int) -> np.ndarray:
    """Reshape a per-feature vector to broadcast against ``(N, D)`` or ``(N, C, H, W)``."""
    return v if ndim == 2 else v.reshape(1, -1, 1, 1)


def batchnorm_forward(x, gamma, beta, running: dict, train: bool = True,
                      momentum: float = 0.1, eps: float = 1e-5):
    """Normalize ``x`` per feature/channel; returns ``(out, cache)``.

    Shapes: ``x (N, D)`` or ``(N, C, H, W)``; ``gamma``, ``beta`` and ``running``'s arrays
    ``(D,)`` or ``(C,)``; ``out`` has the shape of ``x``. Train mode uses the batch's
    statistics (``mu``, ``var`` over ``N`` or ``N*H*W`` values); test mode the running ones.

    ``running`` is a dict with arrays ``"mean"`` and ``"var"`` (see
    :func:`batchnorm_init`); in train mode its two entries are replaced by the updated
    averages, in test mode they are read only."""
    x = as_float_array("x", x, (2, 4), "(N, D) or (N, C, H, W)")
    d = x.shape[1]
    for name, value in (("gamma", gamma), ("beta", beta)):
        if np.shape(value) != (d,):
            raise ValueError(f"{name} must have shape ({d},), one entry per feature/channel "
                             f"of x {x.shape}, got {np.shape(value)}")
    if not isinstance(running, dict) or {"mean", "var"} - running.keys():
        raise ValueError('running must be a dict {"mean": array (D,), "var": array (D,)}; '
                         'start from batchnorm_init(D)[2]')
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    if train:
        m = x.size // d
        if m < 2:
            raise ValueError(f"train mode needs more than one value per feature to estimate a "
                             f"variance, got x of shape {x.shape}; use a larger batch or train=False")
        mu = x.mean(axis=axes)
        var = x.var(axis=axes)
        running["mean"] = (1 - momentum) * running["mean"] + momentum * mu
        running["var"] = (1 - momentum) * running["var"] + momentum * var * m / (m - 1)
    else:
        mu, var = running["mean"], running["var"]
    inv_std = _feature_view(1.0 / np.sqrt(var + eps), x.ndim).astype(x.dtype, copy=False)
    xhat = (x - _feature_view(mu, x.ndim).astype(x.dtype, copy=False)) * inv_std
    out = _feature_view(gamma, x.ndim) * xhat + _feature_view(beta, x.ndim)
    return out, BatchNormCache(xhat, np.asarray(gamma), inv_std, axes, train)


def batchnorm_backward(dout, cache: BatchNormCache):
    """Gradients ``(dx, dgamma, dbeta)`` for ``dout`` of the shape of ``out``.

    Shapes: ``dx`` like ``x`` (``(N, D)`` or ``(N, C, H, W)``); ``dgamma``, ``dbeta`` ``(D,)``
    or ``(C,)``. Train mode: ``dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) /
    sqrt(var + eps)`` with ``dxhat = dout * gamma``; test mode: ``dx = dxhat / sqrt(var + eps)``."""
    xhat, gamma, inv_std, axes, train = cache
    dout = np.asarray(dout)
    check_same_shape("dout", dout, xhat.shape)
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * xhat).sum(axis=axes)
    dxhat = dout * _feature_view(gamma, xhat.ndim)
    if not train:                                   # running statistics are constants
        return dxhat * inv_std, dgamma, dbeta
    mean_dxhat = dxhat.mean(axis=axes, keepdims=True)
    mean_dxhat_xhat = (dxhat * xhat).mean(axis=axes, keepdims=True)
    return (dxhat - mean_dxhat - xhat * mean_dxhat_xhat) * inv_std, dgamma, dbeta
