"""VGG (Simonyan and Zisserman, 2014). Lecture: "VGG (2014)".

The lecture's points, each visible in :class:`VGG`: only 3x3 convolutions (padding 1,
so ``(N - 3 + 2*1)/1 + 1 = N``: the size changes only at the 2x2 max pools); the
number of filters doubles after each pool; no local response normalization; 11 to 19
weight layers. Three stacked 3x3 layers see a 7x7 patch
(``cnnlab.arith.receptive_field([(3, 1)] * 3) == 7``) with ``3 * 9 * C^2 = 27 C^2``
weights instead of ``49 C^2`` and with two extra non-linearities in between.

A configuration is a sequence of channel counts (a 3x3 conv + ReLU each) and ``"M"``
(a 2x2 max pool), as in the paper's Table 1; :data:`VGG_CONFIGS` holds the paper's
columns A (11 layers), B (13), D (16) and E (19).
"""
from __future__ import annotations

from torch import nn

from cnnlab import arith
from cnnlab.nets.base import Net

__all__ = ["VGG", "VGG_CONFIGS", "SMALL_CONFIG", "vgg16"]

VGG_CONFIGS = {
    11: (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    13: (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    16: (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    19: (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
         512, 512, 512, 512, "M"),
}
#: Two blocks of two 3x3 convs for 28x28 / 32x32 images.
SMALL_CONFIG = (32, 32, "M", 64, 64, "M")


class VGG(Net):
    """Stacks of 3x3 convolutions then fully connected layers, for
    ``(N, in_channels, input_size, input_size)`` images -> ``(N, num_classes)``.

    Parameters
    ----------
    config : channel counts and ``"M"`` (2x2 max pool), e.g. :data:`SMALL_CONFIG` or
        ``VGG_CONFIGS[16]``.
    hidden : sizes of the hidden fully connected layers (the paper: ``(4096, 4096)``).
    batch_norm : insert ``BatchNorm2d`` after each conv (then the conv has no bias,
        which BN's shift would cancel) and ``BatchNorm1d`` after each hidden FC layer.
    dropout : dropout probability after each hidden FC layer (the paper: 0.5).

    ``summary(VGG(), (1, 28, 28))``::

        Layer (type)        Output shape   Params  N_out = (N-F+2P)/S+1
        conv1_1 (Conv2d)    (32, 28, 28)      320  (28-3+2*1)/1+1 = 28
        relu1_1 (ReLU)      (32, 28, 28)        0
        conv1_2 (Conv2d)    (32, 28, 28)    9,248  (28-3+2*1)/1+1 = 28
        relu1_2 (ReLU)      (32, 28, 28)        0
        pool1 (MaxPool2d)   (32, 14, 14)        0  (28-2+2*0)/2+1 = 14
        conv2_1 (Conv2d)    (64, 14, 14)   18,496  (14-3+2*1)/1+1 = 14
        relu2_1 (ReLU)      (64, 14, 14)        0
        conv2_2 (Conv2d)    (64, 14, 14)   36,928  (14-3+2*1)/1+1 = 14
        relu2_2 (ReLU)      (64, 14, 14)        0
        pool2 (MaxPool2d)   (64, 7, 7)          0  (14-2+2*0)/2+1 = 7
        flatten (Flatten)   (3136,)             0
        fc1 (Linear)        (256,)        803,072
        relu_fc1 (ReLU)     (256,)              0
        drop_fc1 (Dropout)  (256,)              0
        fc2 (Linear)        (10,)           2,570
        Total parameters: 870,634
    """

    def __init__(self, config=SMALL_CONFIG, in_channels: int = 1, input_size: int = 28,
                 num_classes: int = 10, *, hidden=(256,), batch_norm: bool = False, dropout: float = 0.5):
        layers, channels, size, block, conv = [], in_channels, input_size, 1, 1
        for item in config:
            if item == "M":
                layers.append((f"pool{block}", nn.MaxPool2d(2)))
                size = arith.pool_output_size(size, 2)
                block, conv = block + 1, 1
                continue
            layers.append((f"conv{block}_{conv}",
                           nn.Conv2d(channels, item, 3, padding=arith.same_padding(3), bias=not batch_norm)))
            if batch_norm:
                layers.append((f"bn{block}_{conv}", nn.BatchNorm2d(item)))
            layers.append((f"relu{block}_{conv}", nn.ReLU()))
            size = arith.conv_output_size(size, 3, padding=arith.same_padding(3))
            channels, conv = item, conv + 1
        layers.append(("flatten", nn.Flatten()))
        features = channels * size * size
        for j, width in enumerate(hidden, start=1):
            layers.append((f"fc{j}", nn.Linear(features, width, bias=not batch_norm)))
            if batch_norm:
                layers.append((f"bn_fc{j}", nn.BatchNorm1d(width)))
            layers += [(f"relu_fc{j}", nn.ReLU()), (f"drop_fc{j}", nn.Dropout(dropout))]
            features = width
        layers.append((f"fc{len(hidden) + 1}", nn.Linear(features, num_classes)))
        super().__init__(layers, input_shape=(in_channels, input_size, input_size))


def vgg16(num_classes: int = 1000, *, batch_norm: bool = False) -> VGG:
    """VGG-16 (configuration D) for ``(N, 3, 224, 224)`` images: 138,357,544 parameters.

    Thirteen 3x3 convolutions in five blocks (64, 128, 256, 512, 512 channels; each block
    ends in a 2x2 max pool: 224 -> 112 -> 56 -> 28 -> 14 -> 7), then 7*7*512 = 25,088 ->
    4096 -> 4096 -> 1000. Abridged ``summary(vgg16(), (3, 224, 224))``::

        Layer (type)        Output shape          Params  N_out = (N-F+2P)/S+1
        conv1_1 (Conv2d)    (64, 224, 224)         1,792  (224-3+2*1)/1+1 = 224
        conv1_2 (Conv2d)    (64, 224, 224)        36,928  (224-3+2*1)/1+1 = 224
        pool1 (MaxPool2d)   (64, 112, 112)             0  (224-2+2*0)/2+1 = 112
        conv2_2 (Conv2d)    (128, 112, 112)      147,584  (112-3+2*1)/1+1 = 112
        pool2 (MaxPool2d)   (128, 56, 56)              0  (112-2+2*0)/2+1 = 56
        conv3_3 (Conv2d)    (256, 56, 56)        590,080  (56-3+2*1)/1+1 = 56
        pool3 (MaxPool2d)   (256, 28, 28)              0  (56-2+2*0)/2+1 = 28
        conv4_3 (Conv2d)    (512, 28, 28)      2,359,808  (28-3+2*1)/1+1 = 28
        pool4 (MaxPool2d)   (512, 14, 14)              0  (28-2+2*0)/2+1 = 14
        conv5_3 (Conv2d)    (512, 14, 14)      2,359,808  (14-3+2*1)/1+1 = 14
        pool5 (MaxPool2d)   (512, 7, 7)                0  (14-2+2*0)/2+1 = 7
        flatten (Flatten)   (25088,)                   0
        fc1 (Linear)        (4096,)          102,764,544
        fc2 (Linear)        (4096,)           16,781,312
        fc3 (Linear)        (1000,)            4,097,000
        Total parameters: 138,357,544

    Nearly 3/4 of the parameters sit in ``fc1``; the convolutions hold 14.7 million.
    """
    return VGG(VGG_CONFIGS[16], in_channels=3, input_size=224, num_classes=num_classes,
               hidden=(4096, 4096), batch_norm=batch_norm, dropout=0.5)
