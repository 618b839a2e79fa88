"""LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998). Lecture: "LeNet".

Two variants of the same shape, both for 28x28 single-channel images:

* ``"relu-max"`` (default): the modern reading, ReLU and 2x2 max pooling.
* ``"1998"``: the paper's choices, tanh and 2x2 average pooling ("subsampling").
  Not reproduced from the paper: the trainable coefficient and bias of each
  subsampling map, the partial connection table of C3 and the RBF output layer
  (a plain linear layer here), so both variants have the same 61,706 parameters.

The paper's network takes 32x32 images (MNIST digits padded by 2 pixels), so its C1
maps are 28x28; here the first convolution pads the 28x28 image by 2 instead, which
gives the same sizes (:mod:`cnnlab.arith`: ``(28 - 5 + 2*2)/1 + 1 = 28``).
"""
from __future__ import annotations

from torch import nn

from cnnlab import arith
from cnnlab.nets.base import Net

__all__ = ["LeNet5"]

_VARIANTS = {"relu-max": (nn.ReLU, nn.MaxPool2d), "1998": (nn.Tanh, nn.AvgPool2d)}


class LeNet5(Net):
    """LeNet-5 for ``(N, 1, 28, 28)`` images -> ``(N, num_classes)`` logits.

    ``variant="relu-max"`` (ReLU, max pooling) or ``"1998"`` (tanh, average pooling).
    Layers, output shapes and parameters (``summary(LeNet5(), (1, 28, 28))``)::

        Layer (type)       Output shape  Params  N_out = (N-F+2P)/S+1
        conv1 (Conv2d)     (6, 28, 28)      156  (28-5+2*2)/1+1 = 28
        act1 (ReLU)        (6, 28, 28)        0
        pool1 (MaxPool2d)  (6, 14, 14)        0  (28-2+2*0)/2+1 = 14
        conv2 (Conv2d)     (16, 10, 10)   2,416  (14-5+2*0)/1+1 = 10
        act2 (ReLU)        (16, 10, 10)       0
        pool2 (MaxPool2d)  (16, 5, 5)         0  (10-2+2*0)/2+1 = 5
        flatten (Flatten)  (400,)             0
        fc1 (Linear)       (120,)        48,120
        act3 (ReLU)        (120,)             0
        fc2 (Linear)       (84,)         10,164
        act4 (ReLU)        (84,)              0
        fc3 (Linear)       (10,)            850
        Total parameters: 61,706

    ``fc1`` is the paper's C5 (a 5x5 convolution over a 5x5 map is a fully connected layer),
    ``fc2`` is F6.
    """

    def __init__(self, variant: str = "relu-max", num_classes: int = 10):
        if variant not in _VARIANTS:
            raise ValueError(f"variant must be one of {sorted(_VARIANTS)}, got {variant!r}")
        act, pool = _VARIANTS[variant]
        size = arith.conv_output_size(28, 5, padding=2)              # C1: 28
        size = arith.pool_output_size(size, 2)                       # S2: 14
        size = arith.pool_output_size(arith.conv_output_size(size, 5), 2)   # C3: 10, S4: 5
        super().__init__([
            ("conv1", nn.Conv2d(1, 6, 5, padding=2)), ("act1", act()), ("pool1", pool(2)),
            ("conv2", nn.Conv2d(6, 16, 5)), ("act2", act()), ("pool2", pool(2)),
            ("flatten", nn.Flatten()),
            ("fc1", nn.Linear(16 * size * size, 120)), ("act3", act()),
            ("fc2", nn.Linear(120, 84)), ("act4", act()),
            ("fc3", nn.Linear(84, num_classes)),
        ], input_shape=(1, 28, 28))
        self.variant = variant
