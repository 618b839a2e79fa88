"""The depth of a network as the papers count it: weight layers on the longest path.

Lecture: "Depth as function of year" (AlexNet 8, VGG-19 19, GoogLeNet 22, ResNet-152 152).
A paper's "N layers" is the number of layers *with weights* (convolutions and fully
connected layers) that an input passes through on its longest way to the output:

* AlexNet, VGG: a plain stack, so every conv and linear layer counts (5 + 3, 16 + 3);
* GoogLeNet: an Inception module runs its branches side by side, so it adds the longest
  branch, 1x1 reduce then 3x3 (or 5x5): 2 layers ("22 layers deep when counting only
  layers with parameters", Szegedy et al. 2014, Sec. 5 and Table 1's depth column);
* ResNet: the 1x1 projection shortcuts run beside a block's 3 convolutions, so they do
  not add depth: 1 + 3 * 50 + 1 = 152 (He et al. 2015, Table 1).

:func:`weight_layer_depth` measures exactly that on a forward pass: every tensor carries
the number of conv/linear calls on the longest path that produced it, and an operation's
output gets the largest depth among its inputs (plus one for a conv or linear call).
Works on ``torch.device("meta")`` models, so the full-size networks cost nothing::

    with torch.device("meta"):
        weight_layer_depth(nets.googlenet(), (3, 224, 224))     # 22
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from cnnlab.nets.measure import forward_with_hooks

__all__ = ["weight_layer_depth", "WEIGHT_LAYER_FUNCTIONS"]

#: The calls that count as one weight layer: what ``nn.Conv1d/2d/3d`` and ``nn.Linear`` run.
WEIGHT_LAYER_FUNCTIONS = frozenset({F.conv1d, F.conv2d, F.conv3d, F.linear})


def _tensors(value):
    """Every tensor inside ``value`` (nested tuples, lists and dicts)."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)


class _LongestPath(TorchFunctionMode):
    """Tags every tensor made during a forward pass with its weight-layer depth."""

    def __init__(self):
        super().__init__()
        self._depth = {}        # id(tensor) -> (tensor, depth); holding the tensor keeps its id unique

    def depth_of(self, tensor: torch.Tensor) -> int:
        entry = self._depth.get(id(tensor))
        return entry[1] if entry is not None and entry[0] is tensor else 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        depth = max((self.depth_of(t) for t in _tensors((args, kwargs))), default=0)
        depth += func in WEIGHT_LAYER_FUNCTIONS
        for tensor in _tensors(out):
            self._depth[id(tensor)] = (tensor, max(depth, self.depth_of(tensor)))
        return out


def weight_layer_depth(model: nn.Module, input_shape) -> int:
    """Number of conv and linear layers on the longest input-to-output path of ``model``
    for one image of shape ``input_shape = (C, H, W)``.

    Parallel branches (an Inception module's, a residual block's shortcut) add only their
    longest one; a layer used twice on one path counts twice. One eval-mode forward pass of
    a zero image (``cnnlab.nets.measure.forward_with_hooks``); ``ValueError`` for a bad
    ``input_shape``.
    """
    outputs = []
    tracker = _LongestPath()
    with tracker:
        forward_with_hooks(model, input_shape, [(model, lambda module, inputs, output: outputs.append(output))])
    return max(tracker.depth_of(t) for t in _tensors(outputs))
