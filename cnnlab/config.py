"""Switches every notebook reads the same way: fast mode, the compute device, seeding.

``CNNLAB_FAST=1`` (or ``true``/``yes``/``on``) shortens every long training run so the
whole course executes in CI and on slow laptops; :func:`fast_mode` is the one place
that reads it and :func:`pick` the one way to choose a setting from it.
"""
from __future__ import annotations

import os
import random

import numpy as np

FAST_ENV = "CNNLAB_FAST"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def fast_mode() -> bool:
    """Return True when ``CNNLAB_FAST`` asks for short training runs.

    Raises ``ValueError`` for a value that is neither true-like nor false-like, so a
    typo such as ``CNNLAB_FAST=ture`` is not silently read as "full run".
    """
    value = os.environ.get(FAST_ENV, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"{FAST_ENV}={os.environ[FAST_ENV]!r} is not understood; "
        f"use {FAST_ENV}=1 for short runs or unset it (or 0) for full runs"
    )


def pick(full, fast):
    """Return ``fast`` in fast mode and ``full`` otherwise, e.g. ``epochs = pick(10, 1)``."""
    return fast if fast_mode() else full


def get_device(prefer: str | None = None):
    """The ``torch.device`` to train on: CUDA, then Apple MPS, then CPU.

    ``prefer`` (e.g. ``"cpu"``) overrides the automatic choice; so does the
    environment variable ``CNNLAB_DEVICE``.
    """
    import torch

    choice = prefer or os.environ.get("CNNLAB_DEVICE")
    if choice:
        device = torch.device(choice)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {choice!r} was asked for but CUDA is not available here")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> np.random.Generator:
    """Seed Python, NumPy and torch (if installed); return a fresh NumPy ``Generator``."""
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:  # torch is a dependency, but the NumPy half works without it
        pass
    else:
        torch.manual_seed(seed)
    return np.random.default_rng(seed)
