"""Measuring a model: a layer-by-layer :func:`summary` (output shape, parameter count, the
lecture's formula), :func:`count_parameters` and :func:`count_mult_adds`.

Lecture: "ConvNet" and "A Closer Look at Convolution". For each conv and pooling layer
the table also shows the output size predicted by :mod:`cnnlab.arith`,

    N_out = (N - F + 2P) / S + 1    (floored when it does not divide; shown as floor(...))

next to the size torch actually produced, so students see the formula at work::

    >>> rows = summary(LeNet5(), (1, 28, 28))          # doctest: +SKIP
    Layer (type)          Output shape      Params  N_out = (N-F+2P)/S+1
    conv1 (Conv2d)        (6, 28, 28)          156  (28-5+2*2)/1+1 = 28
    ...

A row is shown for every layer of the model; ``nn.Sequential`` containers (a ResNet
stage, say) are opened, and any other module (an Inception module, a residual block)
is one row, unless ``expand=True`` asks for the layers inside them. Works on ``torch.device("meta")`` models too, so the full-size ImageNet
networks can be summarized without allocating their weights.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

import torch
from torch import nn

from cnnlab import arith
from cnnlab.nets.base import in_mode, model_device

__all__ = ["summary", "count_parameters", "count_mult_adds", "SummaryRow", "forward_with_hooks"]


@dataclass(frozen=True)
class SummaryRow:
    """One layer: dotted ``name``, module class ``kind``, ``output_shape`` ``(C, H, W)`` or
    ``(F,)`` without the batch axis, its ``params`` (all of its own and its children's
    parameters), and for conv/pool layers the ``(H, W)`` that :mod:`cnnlab.arith` predicts
    with the ``formula`` that gave it."""

    name: str
    kind: str
    output_shape: tuple
    params: int
    arith_hw: tuple | None = None
    formula: str = ""


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (scalars) of ``model``; ``trainable_only`` counts those with
    ``requires_grad``. Works for models on the meta device."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _shown_modules(module: nn.Module, expand: bool, prefix: str = ""):
    """``(name, module)`` for every layer: children of Sequential containers, recursively
    (with ``expand``, of every module that has children: the leaves)."""
    for name, child in module.named_children():
        full = f"{prefix}{name}"
        if isinstance(child, nn.Sequential) or (expand and next(child.children(), None) is not None):
            yield from _shown_modules(child, expand, full + ".")
        else:
            yield full, child


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def _arith_prediction(module: nn.Module, in_hw: tuple[int, int]):
    """``((H_out, W_out), formula)`` from cnnlab.arith for conv/pool layers, else ``(None, "")``."""
    if isinstance(module, nn.Conv2d) and isinstance(module.padding, tuple):
        f, s, p, d = (_pair(v) for v in (module.kernel_size, module.stride, module.padding, module.dilation))
        hw = tuple(arith.conv_output_size(in_hw[i], f[i], s[i], p[i], d[i]) for i in range(2))
        f_eff = tuple(arith.effective_filter_size(f[i], d[i]) for i in range(2))
    elif isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)) and not module.ceil_mode:
        f = _pair(module.kernel_size)
        s = _pair(module.stride if module.stride is not None else module.kernel_size)
        p = _pair(module.padding)
        if isinstance(module, nn.MaxPool2d) and _pair(module.dilation) != (1, 1):
            return None, ""
        hw = tuple(arith.pool_output_size(in_hw[i], f[i], s[i], p[i]) for i in range(2))
        f_eff = f
    else:
        return None, ""
    n, fe, st, pa = in_hw[0], f_eff[0], s[0], p[0]
    exact = (n - fe + 2 * pa) % st == 0
    core = f"({n}-{fe}+2*{pa})/{st}"
    formula = f"{core}+1 = {hw[0]}" if exact else f"floor({core})+1 = {hw[0]}"
    return hw, formula


def forward_with_hooks(model: nn.Module, input_shape, hooks) -> None:
    """One eval-mode, no-grad forward pass of a zero batch ``(1, *input_shape)`` on the
    model's device (``meta`` works), with forward ``hooks`` = ``[(module, fn), ...]``
    registered for its duration; the model's train/eval mode is restored and the hooks
    removed afterwards. ``ValueError`` when ``input_shape`` is not ``(C, H, W)``."""
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(isinstance(s, int) and s > 0 for s in shape):
        raise ValueError(f"input_shape must be (C, H, W) of one image, e.g. (1, 28, 28); got {input_shape!r}")
    device = model_device(model)
    handles = [module.register_forward_hook(fn) for module, fn in hooks]
    try:
        with in_mode(model), torch.no_grad():
            model(torch.zeros((1, *shape), device=device))
    finally:
        for handle in handles:
            handle.remove()


def count_mult_adds(model: nn.Module, input_shape) -> int:
    """Multiply-adds of one ``(1, *input_shape)`` forward pass through ``model``'s conv and
    linear layers (the convention of the papers: pooling, normalization and activations
    are not counted).

    A conv layer with ``k`` square ``F x F`` filters over ``D/groups`` input channels and an
    ``H_out x W_out`` output costs ``arith.conv_mult_adds((H_out, W_out), F, D/groups, k)``;
    a linear layer ``in_features * out_features``. Output sizes come from forward hooks, so
    it works on ``torch.device("meta")`` models (nothing computed). ``ValueError`` for a
    non-square kernel or an ``input_shape`` that is not ``(C, H, W)``.
    """
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Linear):
            total += module.in_features * module.out_features * (output.numel() // module.out_features)
            return
        fh, fw = module.kernel_size
        if fh != fw:
            raise ValueError(f"count_mult_adds handles square kernels only, got {module.kernel_size}")
        total += arith.conv_mult_adds(output.shape[2:], fh, module.in_channels // module.groups,
                                      module.out_channels)

    forward_with_hooks(model, input_shape, [(m, hook) for m in model.modules()
                                            if isinstance(m, (nn.Conv2d, nn.Linear))])
    return total


def summary(model: nn.Module, input_shape, *, expand: bool = False, file=None,
            print_table: bool = True) -> list[SummaryRow]:
    """Run one ``(1, *input_shape)`` batch through ``model`` and tabulate every layer.

    Parameters
    ----------
    model : any ``nn.Module`` (its parameters' device is used; ``meta`` works).
    input_shape : ``(C, H, W)`` of one image.
    expand : list the layers inside blocks (Inception modules, residual blocks) too.
    file : where to print (default ``sys.stdout``); ``print_table=False`` prints nothing.

    Returns the list of :class:`SummaryRow`. The model's train/eval mode is restored.
    Raises ``ValueError`` when ``input_shape`` is not three positive integers.
    """
    shown = list(_shown_modules(model, expand))
    seen: dict[str, tuple] = {}

    def hook_for(name):
        def hook(module, inputs, output):
            seen[name] = (tuple(inputs[0].shape), tuple(output.shape))
        return hook

    forward_with_hooks(model, input_shape, [(module, hook_for(name)) for name, module in shown])

    rows = []
    for name, module in shown:
        if name not in seen:  # a layer the forward pass never reached
            continue
        in_shape, out_shape = seen[name]
        hw, formula = _arith_prediction(module, in_shape[2:]) if len(in_shape) == 4 else (None, "")
        rows.append(SummaryRow(name, type(module).__name__, out_shape[1:], count_parameters(module),
                               hw, formula))
    if print_table:
        _print_rows(rows, count_parameters(model), tuple(input_shape), file or sys.stdout)
    return rows


def _print_rows(rows, total: int, input_shape, file) -> None:
    labels = [f"{r.name} ({r.kind})" for r in rows]
    shapes = [str(r.output_shape) for r in rows]
    w_label = max([len("Layer (type)")] + [len(s) for s in labels])
    w_shape = max([len("Output shape")] + [len(s) for s in shapes])
    w_par = max([len("Params")] + [len(f"{r.params:,}") for r in rows])
    print(f"{'input':<{w_label}}  {input_shape}", file=file)
    print(f"{'Layer (type)':<{w_label}}  {'Output shape':<{w_shape}}  {'Params':>{w_par}}  "
          f"N_out = (N-F+2P)/S+1", file=file)
    for label, shp, row in zip(labels, shapes, rows):
        print(f"{label:<{w_label}}  {shp:<{w_shape}}  {row.params:>{w_par},}  {row.formula}".rstrip(),
              file=file)
    print(f"Total parameters: {total:,}", file=file)
