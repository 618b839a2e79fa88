"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012). Lecture: "AlexNet (2012): Architecture"
and "AlexNet (2012): Dropout".

The lecture's list: 8 layers (5 convolutional, 3 fully connected), ReLU, local response
normalization (LRN), max pooling and dropout. Two versions:

* :class:`SmallAlexNet` keeps every ingredient (LRN after the first two convolutions,
  *overlapping* 3x3 max pooling with stride 2, dropout in the first two fully connected
  layers) at a size that trains on 28x28 or 32x32 images on a CPU.
* :class:`AlexNet` is the full ImageNet network, for counting its ~61 million
  parameters (build it on ``torch.device("meta")`` to count without allocating).

Local response normalization (paper, section 3.3) divides each activation by the
activity of the ``n`` neighbouring channels at the same position::

    b[c] = a[c] / (k + alpha * sum_{j = c - n//2}^{c + (n-1)//2} a[j]^2) ** beta

with ``k=2, n=5, alpha=1e-4, beta=0.75`` (channels outside ``0..C-1`` count as zero).
:class:`LocalResponseNorm` writes that formula out; it equals
``torch.nn.LocalResponseNorm(n, alpha * n, beta, k)`` (torch divides its ``alpha`` by
``n``) and is about twice as fast on a CPU.

Input size: the paper says 224x224, but its first layer (11x11, stride 4, no padding)
only tiles a 227x227 image: ``cnnlab.arith.conv_output_size(224, 11, 4, strict=True)``
raises ``(224 - 11 + 2*0)/4 + 1 = 54.25 is not an integer``, while 227 gives 55, the
paper's 55x55x96. :class:`AlexNet` therefore takes 227x227.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab import arith
from cnnlab.nets.base import Net

__all__ = ["SmallAlexNet", "AlexNet", "LocalResponseNorm", "paper_lrn"]


class LocalResponseNorm(nn.Module):
    """The paper's LRN across channels: ``(N, C, H, W) -> (N, C, H, W)`` (formula above)."""

    def __init__(self, n: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0):
        super().__init__()
        self.n, self.alpha, self.beta, self.k = n, alpha, beta, k

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        if a.dim() != 4:
            raise ValueError(f"LocalResponseNorm expects (N, C, H, W); got {tuple(a.shape)}")
        channels = a.shape[1]
        padded = F.pad(a * a, (0, 0, 0, 0, self.n // 2, (self.n - 1) // 2))   # zero channels around
        window = sum(padded[:, j:j + channels] for j in range(self.n))        # sum over n neighbours
        return a / (self.k + self.alpha * window) ** self.beta

    def extra_repr(self) -> str:
        return f"n={self.n}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


def paper_lrn() -> LocalResponseNorm:
    """Krizhevsky et al.'s LRN: k=2, n=5, alpha=1e-4, beta=0.75."""
    return LocalResponseNorm(n=5, alpha=1e-4, beta=0.75, k=2.0)


def _classifier(in_features: int, hidden: int, num_classes: int, dropout: float):
    """fc6, fc7 (ReLU, dropout on their outputs) and fc8, named as in the paper."""
    return [("fc6", nn.Linear(in_features, hidden)), ("relu6", nn.ReLU()), ("drop6", nn.Dropout(dropout)),
            ("fc7", nn.Linear(hidden, hidden)), ("relu7", nn.ReLU()), ("drop7", nn.Dropout(dropout)),
            ("fc8", nn.Linear(hidden, num_classes))]


class SmallAlexNet(Net):
    """AlexNet's recipe for small images ``(N, in_channels, input_size, input_size)``.

    Five convolutions (5x5, 5x5, then three 3x3, all padded to keep the size), LRN
    (``lrn=True``) after the first two, overlapping 3x3/2 max pooling after conv1, conv2
    and conv5, then fc6-fc7-fc8 with ``dropout`` on the outputs of fc6 and fc7.
    ``widths`` are the five convolutions' channel counts, ``hidden`` the size of fc6/fc7.

    ``summary(SmallAlexNet(), (1, 28, 28))``::

        Layer (type)              Output shape  Params  N_out = (N-F+2P)/S+1
        conv1 (Conv2d)            (32, 28, 28)     832  (28-5+2*2)/1+1 = 28
        relu1 (ReLU)              (32, 28, 28)       0
        lrn1 (LocalResponseNorm)  (32, 28, 28)       0
        pool1 (MaxPool2d)         (32, 13, 13)       0  floor((28-3+2*0)/2)+1 = 13
        conv2 (Conv2d)            (64, 13, 13)  51,264  (13-5+2*2)/1+1 = 13
        relu2 (ReLU)              (64, 13, 13)       0
        lrn2 (LocalResponseNorm)  (64, 13, 13)       0
        pool2 (MaxPool2d)         (64, 6, 6)         0  (13-3+2*0)/2+1 = 6
        conv3 (Conv2d)            (96, 6, 6)    55,392  (6-3+2*1)/1+1 = 6
        relu3 (ReLU)              (96, 6, 6)         0
        conv4 (Conv2d)            (96, 6, 6)    83,040  (6-3+2*1)/1+1 = 6
        relu4 (ReLU)              (96, 6, 6)         0
        conv5 (Conv2d)            (64, 6, 6)    55,360  (6-3+2*1)/1+1 = 6
        relu5 (ReLU)              (64, 6, 6)         0
        pool5 (MaxPool2d)         (64, 2, 2)         0  floor((6-3+2*0)/2)+1 = 2
        flatten (Flatten)         (256,)             0
        fc6 (Linear)              (256,)        65,792
        relu6 (ReLU)              (256,)             0
        drop6 (Dropout)           (256,)             0
        fc7 (Linear)              (256,)        65,792
        relu7 (ReLU)              (256,)             0
        drop7 (Dropout)           (256,)             0
        fc8 (Linear)              (10,)          2,570
        Total parameters: 380,042
    """

    def __init__(self, in_channels: int = 1, input_size: int = 28, num_classes: int = 10, *,
                 widths=(32, 64, 96, 96, 64), hidden: int = 256, lrn: bool = True, dropout: float = 0.5):
        w1, w2, w3, w4, w5 = widths
        size = input_size
        layers = []
        for i, (c_in, c_out, f) in enumerate([(in_channels, w1, 5), (w1, w2, 5), (w2, w3, 3),
                                              (w3, w4, 3), (w4, w5, 3)], start=1):
            pad = arith.same_padding(f)
            layers += [(f"conv{i}", nn.Conv2d(c_in, c_out, f, padding=pad)), (f"relu{i}", nn.ReLU())]
            size = arith.conv_output_size(size, f, padding=pad)
            if i <= 2 and lrn:
                layers.append((f"lrn{i}", paper_lrn()))
            if i in (1, 2, 5):
                layers.append((f"pool{i}", nn.MaxPool2d(3, stride=2)))
                size = arith.pool_output_size(size, 3, stride=2)
        layers += [("flatten", nn.Flatten())] + _classifier(w5 * size * size, hidden, num_classes, dropout)
        super().__init__(layers, input_shape=(in_channels, input_size, input_size))


class AlexNet(Net):
    """The ImageNet AlexNet for ``(N, 3, 227, 227)`` images (see the module note on 227).

    ``groups=2`` reproduces the paper's two-GPU split (conv2, conv4 and conv5 only see the
    kernels on their own GPU): 60,965,224 parameters, the paper's "60 million".
    ``groups=1`` is the single-tower version: 62,378,344. Output shapes, from
    ``summary(AlexNet(), (3, 227, 227))``::

        Layer (type)              Output shape       Params  N_out = (N-F+2P)/S+1
        conv1 (Conv2d)            (96, 55, 55)       34,944  (227-11+2*0)/4+1 = 55
        pool1 (MaxPool2d)         (96, 27, 27)            0  (55-3+2*0)/2+1 = 27
        conv2 (Conv2d)            (256, 27, 27)     307,456  (27-5+2*2)/1+1 = 27
        pool2 (MaxPool2d)         (256, 13, 13)           0  (27-3+2*0)/2+1 = 13
        conv3 (Conv2d)            (384, 13, 13)     885,120  (13-3+2*1)/1+1 = 13
        conv4 (Conv2d)            (384, 13, 13)     663,936  (13-3+2*1)/1+1 = 13
        conv5 (Conv2d)            (256, 13, 13)     442,624  (13-3+2*1)/1+1 = 13
        pool5 (MaxPool2d)         (256, 6, 6)             0  (13-3+2*0)/2+1 = 6
        flatten (Flatten)         (9216,)                 0
        fc6 (Linear)              (4096,)        37,752,832
        fc7 (Linear)              (4096,)        16,781,312
        fc8 (Linear)              (1000,)         4,097,000
        Total parameters: 60,965,224

    (ReLU, LRN and dropout rows, which have no parameters, are left out here.)
    """

    def __init__(self, num_classes: int = 1000, *, groups: int = 2, dropout: float = 0.5):
        if groups not in (1, 2):
            raise ValueError(f"groups must be 2 (the paper's two GPUs) or 1 (one tower), got {groups!r}")
        size = arith.conv_output_size(227, 11, stride=4, strict=True)      # 55
        size = arith.pool_output_size(size, 3, stride=2)                    # 27
        size = arith.pool_output_size(arith.conv_output_size(size, 5, padding=2), 3, stride=2)  # 13
        size = arith.pool_output_size(arith.conv_output_size(size, 3, padding=1), 3, stride=2)  # 6
        layers = [
            ("conv1", nn.Conv2d(3, 96, 11, stride=4)), ("relu1", nn.ReLU()), ("lrn1", paper_lrn()),
            ("pool1", nn.MaxPool2d(3, stride=2)),
            ("conv2", nn.Conv2d(96, 256, 5, padding=2, groups=groups)), ("relu2", nn.ReLU()),
            ("lrn2", paper_lrn()), ("pool2", nn.MaxPool2d(3, stride=2)),
            ("conv3", nn.Conv2d(256, 384, 3, padding=1)), ("relu3", nn.ReLU()),
            ("conv4", nn.Conv2d(384, 384, 3, padding=1, groups=groups)), ("relu4", nn.ReLU()),
            ("conv5", nn.Conv2d(384, 256, 3, padding=1, groups=groups)), ("relu5", nn.ReLU()),
            ("pool5", nn.MaxPool2d(3, stride=2)),
            ("flatten", nn.Flatten()),
        ] + _classifier(256 * size * size, 4096, num_classes, dropout)
        super().__init__(layers, input_shape=(3, 227, 227))
