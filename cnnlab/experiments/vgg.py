"""Experiments of lecture notebook 07, VGG (lecture: "VGG (2014)").

Three 3x3 layers instead of one 7x7. A stack of convolutions (stride 1, no padding) with
kernels ``k_1, ..., k_L`` sees ``1 + sum(k_i - 1)`` input pixels per output cell
(:func:`cnnlab.arith.receptive_field`): 7 for three 3x3 layers.

Without non-linearities and biases such a stack is one linear convolution: a cross-correlation
of a cross-correlation is a cross-correlation whose kernel is the (full) convolution of the two
kernels. :func:`effective_kernel` finds that kernel as a gradient, since for
``y = conv2d(x, K)`` with a ``1x1`` output, ``dy[k] / dx = K[k]``::

    conv_stack((3, 3, 3), relu=False)(x) == conv2d(x, effective_kernel(stack))    # (K, C, 7, 7)

With a ReLU after each layer the stack is no longer linear, hence no longer a single 7x7
filter: the "extra non-linearities" of the lecture.

:func:`block_parameters` groups a VGG's layer-by-layer summary (layer names ``conv{b}_{i}``,
``relu{b}_{i}``, ``bn{b}_{i}``, ``pool{b}``, ``fc{j}``, ``relu_fc{j}``, ``drop_fc{j}``, as in
:class:`cnnlab.nets.VGG`) into one row per convolutional block and per fully connected layer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cnnlab import arith
from cnnlab.nets.measure import summary

__all__ = ["conv_stack", "stack_receptive_field", "input_support", "effective_kernel", "BlockRow",
           "block_parameters"]


def conv_stack(kernels=(3, 3, 3), channels: int = 1, *, relu: bool = True, seed: int = 0,
               dtype=torch.float64) -> nn.Sequential:
    """``len(kernels)`` bias-free ``k x k`` convolutions (stride 1, no padding, ``channels`` in
    and out), each followed by a ReLU when ``relu``. Weights are normal with standard deviation
    ``1/sqrt(channels * k * k)`` from a generator seeded with ``seed``, so two stacks built with
    the same ``seed`` (one with, one without ReLUs) have the same weights."""
    if not kernels:
        raise ValueError(f"kernels must be a non-empty sequence of positive kernel sizes, got {kernels!r}")
    kernels = [arith.check_int("kernel size", k, 1) for k in kernels]
    channels = arith.check_int("channels", channels, 1)
    gen = torch.Generator().manual_seed(seed)
    layers = []
    for k in kernels:
        conv = nn.Conv2d(channels, channels, k, bias=False, dtype=dtype)
        with torch.no_grad():
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen, dtype=dtype)
                              / (channels * k * k) ** 0.5)
        layers.append(conv)
        if relu:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _convs(model: nn.Module) -> list[nn.Conv2d]:
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"{type(model).__name__} has no nn.Conv2d layer")
    return convs


def stack_receptive_field(model: nn.Module) -> int:
    """Receptive field (pixels along one axis) of the ``nn.Conv2d`` layers of ``model``, in
    order, from their ``(kernel, stride)`` via :func:`cnnlab.arith.receptive_field`."""
    return arith.receptive_field([(m.kernel_size[0], m.stride[0]) for m in _convs(model)])


def input_support(model: nn.Module, input_size: int, cell=None) -> np.ndarray:
    """Boolean ``(input_size, input_size)`` map of the input pixels on which output ``cell``
    ``(row, col)`` of channel 0 depends: those with a non-zero gradient (summed over input
    channels) at a constant input of ones. ``cell`` defaults to the centre of the output.

    For a linear stack with generic weights this is the receptive field; a ReLU that is off
    at the input used would hide part of it.
    """
    first = _convs(model)[0]
    x = torch.ones((1, first.in_channels, input_size, input_size), dtype=first.weight.dtype,
                   device=first.weight.device, requires_grad=True)
    out = model(x)
    h, w = out.shape[2:]
    i, j = (h // 2, w // 2) if cell is None else cell
    if not (0 <= i < h and 0 <= j < w):
        raise ValueError(f"cell {(i, j)} is outside the {h}x{w} output")
    (grad,) = torch.autograd.grad(out[0, 0, i, j], x)
    return (grad[0] != 0).any(dim=0).cpu().numpy()


def effective_kernel(model: nn.Module) -> torch.Tensor:
    """The ``(K_out, C_in, r, r)`` kernel of one convolution equivalent to a linear, bias-free
    stack of convolutions, ``r = stack_receptive_field(model)``.

    Computed as the gradient of each output channel of the ``1x1`` output that an ``r x r``
    input produces. Exact for a stack without non-linearities or biases; for other models it
    is the gradient at a zero input (for a ReLU stack: all zeros, ReLU's gradient at 0).
    """
    first = _convs(model)[0]
    r = stack_receptive_field(model)
    x = torch.zeros((1, first.in_channels, r, r), dtype=first.weight.dtype,
                    device=first.weight.device, requires_grad=True)
    out = model(x)
    if out.shape[2:] != (1, 1):
        raise ValueError(f"an {r}x{r} input gave a {tuple(out.shape[2:])} output, not 1x1: "
                         f"the model must be convolutions with stride 1 and no padding")
    rows = [torch.autograd.grad(out[0, k, 0, 0], x, retain_graph=True)[0][0] for k in range(out.shape[1])]
    return torch.stack(rows).detach()


@dataclass(frozen=True)
class BlockRow:
    """One block of a VGG: ``name`` (``"block3"``, ``"fc1"``), the names of its layers that
    hold parameters, the ``output_shape`` of its last layer (without the batch axis) and
    its ``params``."""

    name: str
    layers: tuple
    output_shape: tuple
    params: int


def _group(layer: str) -> str:
    conv = re.fullmatch(r"(?:conv|bn|relu|pool)(\d+)(?:_\d+)?", layer)
    if conv:
        return f"block{conv.group(1)}"
    fc = re.fullmatch(r"(?:relu_|drop_|bn_)?fc(\d+)", layer)
    return f"fc{fc.group(1)}" if fc else layer


def block_parameters(model: nn.Module, input_shape) -> list[BlockRow]:
    """One :class:`BlockRow` per convolutional block and per fully connected layer of a
    :class:`cnnlab.nets.VGG` (works on the meta device); groups without parameters (the
    flatten) are left out. ``input_shape`` is ``(C, H, W)`` of one image."""
    rows = summary(model, tuple(input_shape), print_table=False)
    blocks: dict[str, list] = {}
    for row in rows:
        blocks.setdefault(_group(row.name), []).append(row)
    out = []
    for name, members in blocks.items():
        params = sum(r.params for r in members)
        if params:
            out.append(BlockRow(name, tuple(r.name for r in members if r.params),
                                tuple(members[-1].output_shape), params))
    return out
