"""Residual networks (He, Zhang, Ren and Sun, 2015). Lecture: "ResNet (2015)".

A residual block learns a correction ``F(x)`` to its input instead of a whole new
mapping, and adds it back through a skip connection::

    out = relu(F(x) + shortcut(x))

``shortcut`` is the identity when shapes agree, else a 1x1 convolution with the
block's stride (the paper's option B). Without the skip (``skip=False``, or
:class:`PlainNet`) the same layers form a "plain" network: the paper's degradation
experiment shows the deeper plain network training *worse* than the shallower one,
which the residual version fixes.

* :class:`BasicBlock`: two 3x3 convs (ResNet-18/34 and the CIFAR ResNets).
* :class:`Bottleneck`: 1x1 (reduce to ``width``) -> 3x3 -> 1x1 (expand to ``4*width``),
  (ResNet-50/101/152): cheaper per layer, so the network can be deeper.

Stride-2 3x3 convolutions with padding 1 halve even sizes:
``cnnlab.arith.conv_output_size(28, 3, stride=2, padding=1) == 14``.

The lecture's list ("no dropout", "batch normalization") are the defaults; both are
options here for the experiments.
"""
from __future__ import annotations

import torch
from torch import nn

from cnnlab import arith
from cnnlab.nets.base import Net

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "PlainNet", "resnet152", "IMAGENET_DEPTHS"]


def _conv_bn(c_in: int, c_out: int, f: int, stride: int, batch_norm: bool) -> list[nn.Module]:
    layers = [nn.Conv2d(c_in, c_out, f, stride=stride, padding=arith.same_padding(f), bias=not batch_norm)]
    return layers + ([nn.BatchNorm2d(c_out)] if batch_norm else [])


class _Residual(nn.Module):
    """``relu(body(x) + shortcut(x))``; without ``skip`` simply ``relu(body(x))``."""

    def __init__(self, body: list[nn.Module], c_in: int, c_out: int, stride: int, batch_norm: bool, skip: bool):
        super().__init__()
        self.body = nn.Sequential(*body)
        self.skip = skip
        self.shortcut = None
        if skip and (stride != 1 or c_in != c_out):
            self.shortcut = nn.Sequential(*_conv_bn(c_in, c_out, 1, stride, batch_norm))
        self.relu = nn.ReLU()
        self.in_channels, self.out_channels = c_in, c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        if self.skip:
            out = out + (x if self.shortcut is None else self.shortcut(x))
        return self.relu(out)


class BasicBlock(_Residual):
    """Two 3x3 convs: ``(N, c_in, H, W) -> (N, c_out, H/stride, W/stride)``.

    ``conv 3x3 (stride) - BN - ReLU - conv 3x3 - BN``, plus the shortcut, then ReLU.
    ``batch_norm=False`` drops the BNs (the convs get biases); ``skip=False`` drops the shortcut.
    """

    expansion = 1

    def __init__(self, c_in: int, c_out: int, stride: int = 1, *, batch_norm: bool = True, skip: bool = True):
        body = _conv_bn(c_in, c_out, 3, stride, batch_norm) + [nn.ReLU()] + _conv_bn(c_out, c_out, 3, 1, batch_norm)
        super().__init__(body, c_in, c_out, stride, batch_norm, skip)


class Bottleneck(_Residual):
    """1x1 -> 3x3 -> 1x1: ``(N, c_in, H, W) -> (N, 4*width, H/stride, W/stride)``.

    The stride sits on the 3x3 conv (as in torchvision; the count of parameters does
    not depend on where it sits).
    """

    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int = 1, *, batch_norm: bool = True, skip: bool = True):
        c_out = width * self.expansion
        body = (_conv_bn(c_in, width, 1, 1, batch_norm) + [nn.ReLU()]
                + _conv_bn(width, width, 3, stride, batch_norm) + [nn.ReLU()]
                + _conv_bn(width, c_out, 1, 1, batch_norm))
        super().__init__(body, c_in, c_out, stride, batch_norm, skip)


#: ImageNet ResNets (paper, Table 1): depth -> (block, blocks per stage)
IMAGENET_DEPTHS = {18: (BasicBlock, (2, 2, 2, 2)), 34: (BasicBlock, (3, 4, 6, 3)),
                   50: (Bottleneck, (3, 4, 6, 3)), 101: (Bottleneck, (3, 4, 23, 3)),
                   152: (Bottleneck, (3, 8, 36, 3))}
_BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


def _small_plan(depth: int, block: str):
    """CIFAR-style plan (paper, section 4.2): 3 stages of n blocks; depth = 6n+2 (basic)
    or 9n+2 (bottleneck), counting the stem conv and the final linear layer."""
    if block not in _BLOCKS:
        raise ValueError(f"block must be 'basic' or 'bottleneck', got {block!r}")
    per_block = 2 if block == "basic" else 3
    n, rest = divmod(depth - 2, 3 * per_block)
    if n < 1 or rest:
        examples = [3 * per_block * k + 2 for k in (1, 2, 3, 5, 9)]
        raise ValueError(f"a small ResNet with {block} blocks has depth {3 * per_block}n+2 "
                         f"(e.g. {examples}); got depth={depth}")
    return _BLOCKS[block], (n, n, n)


class ResNet(Net):
    """Residual network whose ``depth`` (number of weight layers) is a parameter.

    Small (default, for 28x28 or 32x32 images, ``(N, in_channels, input_size, input_size)``):
    a 3x3 stem conv with ``width`` channels, three stages of ``n`` blocks with
    ``width, 2*width, 4*width`` channels (the 2nd and 3rd start with stride 2), global
    average pooling, optional dropout, one linear layer. ``depth = 6n+2`` with basic
    blocks (20, 32, 44, 56, 110) or ``9n+2`` with ``block="bottleneck"``.

    ``imagenet=True``: the paper's ImageNet network for ``(N, 3, 224, 224)``; ``depth``
    in :data:`IMAGENET_DEPTHS` (18, 34, 50, 101, 152) and widths 64, 128, 256, 512, with
    a 7x7/2 stem conv and a 3x3/2 max pool.

    ``batch_norm`` (default True) and ``skip`` (default True) switch batch normalization
    and the skip connections; ``dropout`` (default 0, as in the paper) is applied before
    the linear layer. ``summary(ResNet(20), (1, 28, 28))``::

        Layer (type)                 Output shape  Params  N_out = (N-F+2P)/S+1
        conv1 (Conv2d)               (16, 28, 28)     144  (28-3+2*1)/1+1 = 28
        bn1 (BatchNorm2d)            (16, 28, 28)      32
        relu1 (ReLU)                 (16, 28, 28)       0
        stage1.0 (BasicBlock)        (16, 28, 28)   4,672
        stage1.1 (BasicBlock)        (16, 28, 28)   4,672
        stage1.2 (BasicBlock)        (16, 28, 28)   4,672
        stage2.0 (BasicBlock)        (32, 14, 14)  14,528
        stage2.1 (BasicBlock)        (32, 14, 14)  18,560
        stage2.2 (BasicBlock)        (32, 14, 14)  18,560
        stage3.0 (BasicBlock)        (64, 7, 7)    57,728
        stage3.1 (BasicBlock)        (64, 7, 7)    73,984
        stage3.2 (BasicBlock)        (64, 7, 7)    73,984
        avgpool (AdaptiveAvgPool2d)  (64, 1, 1)         0
        flatten (Flatten)            (64,)              0
        fc (Linear)                  (10,)            650
        Total parameters: 272,186
    """

    def __init__(self, depth: int = 20, *, in_channels: int = 1, input_size: int = 28, num_classes: int = 10,
                 width: int | None = None, block: str = "basic", imagenet: bool = False,
                 batch_norm: bool = True, skip: bool = True, dropout: float = 0.0):
        if imagenet:
            if depth not in IMAGENET_DEPTHS:
                raise ValueError(f"ImageNet ResNets have depth {sorted(IMAGENET_DEPTHS)}, got {depth}")
            block_cls, counts = IMAGENET_DEPTHS[depth]
            width = width or 64
            widths = [width * 2 ** i for i in range(4)]
            layers = [("conv1", nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=not batch_norm))]
        else:
            block_cls, counts = _small_plan(depth, block)
            width = width or 16
            widths = [width * 2 ** i for i in range(3)]
            layers = [("conv1", nn.Conv2d(in_channels, width, 3, padding=1, bias=not batch_norm))]
        if batch_norm:
            layers.append(("bn1", nn.BatchNorm2d(width)))
        layers.append(("relu1", nn.ReLU()))
        if imagenet:
            layers.append(("pool1", nn.MaxPool2d(3, stride=2, padding=1)))
        channels = width
        for s, (count, w) in enumerate(zip(counts, widths), start=1):
            blocks = []
            for b in range(count):
                stride = 2 if (b == 0 and s > 1) else 1
                blocks.append(block_cls(channels, w, stride, batch_norm=batch_norm, skip=skip))
                channels = blocks[-1].out_channels
            layers.append((f"stage{s}", nn.Sequential(*blocks)))
        layers += [("avgpool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten())]
        if dropout:
            layers.append(("dropout", nn.Dropout(dropout)))
        layers.append(("fc", nn.Linear(channels, num_classes)))
        super().__init__(layers, input_shape=(in_channels, input_size, input_size))
        self.depth = depth


class PlainNet(ResNet):
    """:class:`ResNet` without skip connections, same layers otherwise (the degradation
    experiment: compare ``PlainNet(56)`` with ``PlainNet(20)`` and ``ResNet(56)``)."""

    def __init__(self, depth: int = 20, **kwargs):
        if kwargs.pop("skip", False):
            raise ValueError("PlainNet has no skip connections; use ResNet for skip=True")
        super().__init__(depth, skip=False, **kwargs)


def resnet152(num_classes: int = 1000) -> ResNet:
    """ResNet-152 for ``(N, 3, 224, 224)`` images: 60,192,808 parameters.

    Stem (7x7/2 conv, 3x3/2 max pool: 224 -> 112 -> 56), then 3, 8, 36 and 3 bottleneck
    blocks (outputs 256x56x56, 512x28x28, 1024x14x14, 2048x7x7), average pool, 2048 -> 1000.
    1 + 3*(3+8+36+3) + 1 = 152 weight layers. Abridged ``summary(resnet152(), (3, 224, 224))``::

        Layer (type)                 Output shape       Params  N_out = (N-F+2P)/S+1
        conv1 (Conv2d)               (64, 112, 112)      9,408  floor((224-7+2*3)/2)+1 = 112
        pool1 (MaxPool2d)            (64, 56, 56)            0  floor((112-3+2*1)/2)+1 = 56
        stage1.0 (Bottleneck)        (256, 56, 56)      75,008
        stage2.0 (Bottleneck)        (512, 28, 28)     379,392
        stage3.0 (Bottleneck)        (1024, 14, 14)  1,512,448
        stage4.0 (Bottleneck)        (2048, 7, 7)    6,039,552
        stage4.2 (Bottleneck)        (2048, 7, 7)    4,462,592
        avgpool (AdaptiveAvgPool2d)  (2048, 1, 1)            0
        fc (Linear)                  (1000,)         2,049,000
        Total parameters: 60,192,808
    """
    return ResNet(152, imagenet=True, in_channels=3, input_size=224, num_classes=num_classes)
