"""Experiments of lecture notebook 08, GoogLeNet (lecture: "GoogLeNet [Szegedy et al., 2014]"
and "Inception-v4 = ResNet + Inception").

What the 1x1 reductions of an Inception module save. On an ``H x W x D`` input a branch of
``k`` filters of size ``F x F`` costs (``cnnlab.arith``)

    parameters  F*F*D*k + k                  (conv_param_count)
    mult-adds   H*W*k * F*F*D                (conv_mult_adds; the size is kept, padding (F-1)/2)

:func:`inception_costs` adds them up branch by branch, for the real module (1x1, 1x1 -> 3x3,
1x1 -> 5x5, pool -> 1x1) and for the paper's *naive* module (Fig. 2a: 1x1, 3x3 and 5x5
straight on the input, the pooled input concatenated as it is, so the output is
``c1 + c3 + c5 + D`` deep).

:data:`PAPER_TABLE1` holds the paper's per-module figures to check them (and
:func:`cnnlab.nets.count_mult_adds`, a whole model's multiply-adds) against;
:func:`parameters_by_layer_type` splits a model's parameters into convolutional and fully
connected ones.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from cnnlab import arith

__all__ = ["Cost", "InceptionCost", "inception_costs", "parameters_by_layer_type",
           "PAPER_TABLE1"]

#: Szegedy et al. 2014, Table 1, per Inception module: (params in K, ops in M). The
#: "params" column counts weights only (no biases) in units of K = 1024; "ops" are the
#: multiply-adds of one 224x224 image.
PAPER_TABLE1 = {
    "inception3a": (159, 128), "inception3b": (380, 304), "inception4a": (364, 73),
    "inception4b": (437, 88), "inception4c": (463, 100), "inception4d": (580, 119),
    "inception4e": (840, 170), "inception5a": (1072, 54), "inception5b": (1388, 71),
}


@dataclass(frozen=True)
class Cost:
    """One conv layer: ``params`` (weights and biases, ``F*F*D*k + k``), ``weights`` (``F*F*D*k``)
    and ``mult_adds`` (``H*W*k * F*F*D``)."""
    params: int
    weights: int
    mult_adds: int


@dataclass(frozen=True)
class InceptionCost:
    """``branches``: layer name -> :class:`Cost` (e.g. ``"3x3 reduce"``, ``"5x5"``);
    ``out_channels``: depth of the concatenated output; totals as properties."""
    branches: dict
    out_channels: int

    @property
    def params(self) -> int:
        return sum(c.params for c in self.branches.values())

    @property
    def weights(self) -> int:
        """Parameters without biases, as the paper's Table 1 counts them."""
        return sum(c.weights for c in self.branches.values())

    @property
    def mult_adds(self) -> int:
        return sum(c.mult_adds for c in self.branches.values())


def _conv(hw, f: int, d_in: int, k: int) -> Cost:
    return Cost(arith.conv_param_count(f, d_in, k), arith.conv_param_count(f, d_in, k, bias=False),
                arith.conv_mult_adds(hw, f, d_in, k))


def inception_costs(hw, in_channels: int, c1: int, c3_reduce: int, c3: int, c5_reduce: int, c5: int,
                    pool_proj: int, *, reductions: bool = True) -> InceptionCost:
    """Cost of an Inception module on an ``hw = (H, W)`` input of depth ``in_channels``
    (arguments in the column order of the paper's Table 1, as :class:`cnnlab.nets.Inception`).

    ``reductions=True``: the real module, six conv layers (1x1; 3x3 reduce, 3x3; 5x5 reduce,
    5x5; pool proj), ``c1 + c3 + c5 + pool_proj`` channels out. ``reductions=False``: the naive
    module, three conv layers (1x1, 3x3 and 5x5 on all ``in_channels``; the reduce sizes and
    ``pool_proj`` are unused), ``c1 + c3 + c5 + in_channels`` channels out. Max pooling has no
    parameters and its comparisons are not multiply-adds: it costs nothing here.
    """
    if reductions:
        branches = {"1x1": _conv(hw, 1, in_channels, c1),
                    "3x3 reduce": _conv(hw, 1, in_channels, c3_reduce), "3x3": _conv(hw, 3, c3_reduce, c3),
                    "5x5 reduce": _conv(hw, 1, in_channels, c5_reduce), "5x5": _conv(hw, 5, c5_reduce, c5),
                    "pool proj": _conv(hw, 1, in_channels, pool_proj)}
        return InceptionCost(branches, c1 + c3 + c5 + pool_proj)
    branches = {"1x1": _conv(hw, 1, in_channels, c1), "3x3": _conv(hw, 3, in_channels, c3),
                "5x5": _conv(hw, 5, in_channels, c5)}
    return InceptionCost(branches, c1 + c3 + c5 + in_channels)


def parameters_by_layer_type(model: nn.Module) -> dict:
    """``{"conv": ..., "fully connected": ..., "other": ...}`` parameter counts (weights and
    biases of ``nn.Conv2d``, of ``nn.Linear``, and of anything else such as batch norm)."""
    counts = {"conv": 0, "fully connected": 0, "other": 0}
    for module in model.modules():
        own = sum(p.numel() for p in module.parameters(recurse=False))
        if isinstance(module, nn.Conv2d):
            counts["conv"] += own
        elif isinstance(module, nn.Linear):
            counts["fully connected"] += own
        else:
            counts["other"] += own
    return counts
