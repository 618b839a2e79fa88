"""Experiments of lecture notebook 04, ReLU and pooling (lecture: "ReLU", "Max Pooling").

Dying ReLUs. A ReLU unit is *dead* on a set of inputs when it outputs 0 for every one of
them: its gradient is then 0 too, so gradient descent can never revive it. :func:`relu_mlp`
builds a small fully connected ReLU network for 28x28 images and :func:`dead_units` counts
its dead units on a batch::

    relu_mlp((256, 256)):  (N, 1, 28, 28) -> flatten 784 -> 256 -> ReLU -> 256 -> ReLU -> 10

Pooling and small shifts. :func:`max_pool_levels` applies ``levels`` max-pooling layers
(``size x size`` windows, stride ``stride``, :func:`cnnlab.reference.maxpool_forward`);
:func:`unchanged_fraction` compares two arrays position by position, counting only
*foreground* positions (non-zero in at least one of them), so the empty background of a
Fashion-MNIST picture does not count as "unchanged"; :func:`shift_stability` puts the two
together: for each shift, the fraction of outputs a shift leaves unchanged, per pooling level
(level 0 = the raw pixels).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cnnlab.arith import check_int
from cnnlab.data.images import as_images, shift
from cnnlab.nets.base import Net, in_mode, model_device
from cnnlab.reference import maxpool_forward

__all__ = ["relu_mlp", "DeadUnits", "dead_units", "max_pool_levels", "unchanged_fraction",
           "shift_stability"]


def relu_mlp(hidden=(256, 256), input_shape=(1, 28, 28), num_classes: int = 10) -> Net:
    """Fully connected ReLU network ``flatten -> [Linear -> ReLU] * len(hidden) -> Linear``.

    Layers are named ``flatten``, ``fc1``, ``relu1``, ..., ``fc{len(hidden)+1}``; input
    ``(N, *input_shape)``, output logits ``(N, num_classes)``; torch's default initialization.
    """
    if not hidden:
        raise ValueError(f"hidden must be a non-empty sequence of positive layer widths, got {hidden!r}")
    hidden = [check_int("hidden layer width", h, 1) for h in hidden]
    layers, width = [("flatten", nn.Flatten())], int(np.prod(input_shape))
    for i, h in enumerate(hidden, start=1):
        layers += [(f"fc{i}", nn.Linear(width, h)), (f"relu{i}", nn.ReLU())]
        width = h
    layers.append((f"fc{len(hidden) + 1}", nn.Linear(width, num_classes)))
    return Net(layers, input_shape=input_shape)


@dataclass(frozen=True)
class DeadUnits:
    """Dead units of each ReLU layer: ``masks[name]`` is a boolean array of the layer's unit
    shape (e.g. ``(256,)``), True for a dead unit; ``nonfinite`` is the number of units that
    produced NaN or infinity on some input (a diverged network)."""

    masks: dict
    nonfinite: int = 0

    @property
    def per_layer(self) -> dict:
        """``{name: (dead, units)}`` for every ReLU layer."""
        return {name: (int(mask.sum()), int(mask.size)) for name, mask in self.masks.items()}

    @property
    def dead(self) -> int:
        return sum(d for d, _ in self.per_layer.values())

    @property
    def units(self) -> int:
        return sum(u for _, u in self.per_layer.values())

    @property
    def fraction(self) -> float:
        """Dead units / all ReLU units of the network."""
        return self.dead / self.units

    def layer_fraction(self, name: str) -> float:
        dead, units = self.per_layer[name]
        return dead / units


def dead_units(model: nn.Module, X, *, batch_size: int = 1024) -> DeadUnits:
    """Count the units of every ``nn.ReLU`` of ``model`` that output 0 for every image of ``X``.

    ``X``: images as :func:`cnnlab.data.as_images` takes them (``uint8 (N, H, W)`` or float
    ``(N, C, H, W)``). A unit is one entry of the layer's output (one neuron of a fully
    connected layer). Runs in eval mode without gradients on the model's device; the mode
    is restored. Raises ``ValueError`` when the model has no ``nn.ReLU`` module.
    """
    relus = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.ReLU)]
    if not relus:
        raise ValueError(f"{type(model).__name__} has no nn.ReLU module: nothing can die")
    X = as_images(X, "X")
    device = model_device(model)
    alive: dict[str, torch.Tensor] = {}
    broken: dict[str, torch.Tensor] = {}

    def hook_for(name):
        def hook(module, inputs, output):
            active = (output != 0).any(dim=0)
            bad = (~torch.isfinite(output)).any(dim=0)
            alive[name] = active if name not in alive else alive[name] | active
            broken[name] = bad if name not in broken else broken[name] | bad
        return hook

    handles = [m.register_forward_hook(hook_for(name)) for name, m in relus]
    try:
        with in_mode(model), torch.no_grad():
            for start in range(0, len(X), batch_size):
                model(X[start:start + batch_size].to(device))
    finally:
        for handle in handles:
            handle.remove()
    masks = {name: (~alive[name]).cpu().numpy() for name, _ in relus if name in alive}
    return DeadUnits(masks, nonfinite=sum(int(b.sum()) for b in broken.values()))


def max_pool_levels(x, levels: int, size: int = 2, stride: int | None = None) -> np.ndarray:
    """``x (N, C, H, W)`` after ``levels`` max-pooling layers (sizes floored like torch)."""
    levels = check_int("levels", levels, 0)
    out = np.asarray(x)
    for _ in range(levels):
        out, _ = maxpool_forward(out, size, stride, strict=False)
    return out


def unchanged_fraction(before, after) -> float:
    """Fraction of foreground positions (non-zero in ``before`` or ``after``) where the two
    arrays are equal. Raises ``ValueError`` for different shapes or no foreground at all."""
    before, after = np.asarray(before), np.asarray(after)
    if before.shape != after.shape:
        raise ValueError(f"arrays to compare have shapes {before.shape} and {after.shape}; they must match")
    foreground = (before != 0) | (after != 0)
    if not foreground.any():
        raise ValueError("both arrays are all zeros: there is no foreground to compare")
    return float(np.mean(before[foreground] == after[foreground]))


def shift_stability(images, shifts, levels=(0, 1, 2), size: int = 2,
                    stride: int | None = None) -> dict:
    """``{(dy, dx): {level: fraction}}``: for each shift, the :func:`unchanged_fraction` of
    ``max_pool_levels(images, level)`` against the same for the shifted images.

    ``images``: ``(N, H, W)`` or ``(N, C, H, W)`` (any numeric dtype; compared exactly, so
    integer pixels compare without rounding noise); level 0 compares the raw pixels.
    """
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise ValueError(f"images must be (N, H, W) or (N, C, H, W), got shape {x.shape}")
    x = x.astype(np.float64)
    result = {}
    for dy, dx in shifts:
        moved = shift(x, dy, dx)
        result[(dy, dx)] = {level: unchanged_fraction(max_pool_levels(x, level, size, stride),
                                                      max_pool_levels(moved, level, size, stride))
                            for level in levels}
    return result
