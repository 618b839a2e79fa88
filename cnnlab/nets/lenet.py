"""LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998). Lecture: "LeNet".

Two variants, both for 28x28 single-channel images:

* ``"relu-max"`` (default): the modern reading, ReLU, 2x2 max pooling, fully connected
  layers and a linear output; 61,706 parameters (table in :class:`LeNet5`).
* ``"1998"``: the network of the paper's section II-B, layer by layer:

  - every layer up to F6 squashes with ``f(a) = 1.7159 tanh(2a/3)`` (:class:`ScaledTanh`;
    the constants are the paper's, section II-B and appendix A);
  - S2 and S4 *subsample*: each unit adds the four inputs of its 2x2 window, multiplies
    the sum by a trainable coefficient and adds a trainable bias, one pair per map
    (:class:`Subsampling`), then squashes;
  - C3 is partially connected: each of its 16 maps reads only the S2 maps of the
    paper's Table I (:data:`C3_TABLE`, :class:`PartialConv2d`);
  - C5 is a convolution, 120 filters of 5x5 over S4's 16 maps of 5x5, so each C5 map is
    1x1 (the paper calls it a convolution because a larger input would give larger maps;
    the lecture's slide lists it as a fully connected layer "F5");
  - the output layer holds 10 Euclidean RBF units with *fixed* +-1 centres
    (:class:`EuclideanRBF`): unit i's penalty is ``y_i = sum_j (x_j - w_ij)^2``. The paper
    drew each centre as a stylized 7x12 bitmap of its character and said random +-1
    codes would also do; here the centres are random +-1 codes (seed 1998), since the
    course's classes are not always digits. The model returns ``-y`` as its scores, so
    the usual cross-entropy is the paper's training criterion (section II-C, eq. 9)
    without the constant ``e^(-j)`` (a "rubbish class") that the paper adds inside its
    logarithm. The 840 centres are a buffer, not parameters: like the paper, the
    variant has 60,000 trainable parameters.

  Not reproduced: the paper's input scaling (white -0.1, black 1.175), its weight
  initialisation and its stochastic diagonal Levenberg-Marquardt training; the course
  trains every variant the same way.

  Layers, output shapes and parameters (``summary(LeNet5("1998"), (1, 28, 28))``)::

    C1 (Conv2d)            (6, 28, 28)       156  (28-5+2*2)/1+1 = 28
    act1 (ScaledTanh)      (6, 28, 28)         0
    S2 (Subsampling)       (6, 14, 14)        12  (28-2+2*0)/2+1 = 14
    act2 (ScaledTanh)      (6, 14, 14)         0
    C3 (PartialConv2d)     (16, 10, 10)    1,516
    act3 (ScaledTanh)      (16, 10, 10)        0
    S4 (Subsampling)       (16, 5, 5)         32  (10-2+2*0)/2+1 = 5
    act4 (ScaledTanh)      (16, 5, 5)          0
    C5 (Conv2d)            (120, 1, 1)    48,120  (5-5+2*0)/1+1 = 1
    act5 (ScaledTanh)      (120, 1, 1)         0
    flatten (Flatten)      (120,)              0
    F6 (Linear)            (84,)          10,164
    act6 (ScaledTanh)      (84,)               0
    output (EuclideanRBF)  (10,)               0
    Total parameters: 60,000

The paper's network takes 32x32 images (MNIST digits padded by 2 pixels), so its C1
maps are 28x28; here the first convolution pads the 28x28 image by 2 instead, which
gives the same sizes (:mod:`cnnlab.arith`: ``(28 - 5 + 2*2)/1 + 1 = 28``).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab import arith
from cnnlab.nets.base import Net

__all__ = ["LeNet5", "C3_TABLE", "ScaledTanh", "Subsampling", "PartialConv2d", "EuclideanRBF"]

_VARIANTS = ("relu-max", "1998")

#: LeCun et al. 1998, Table I: the S2 maps (0-5) that each of C3's 16 maps reads.
#: Six maps read 3 neighbouring S2 maps, six read 4 neighbours, three read 4 maps that are
#: not all neighbours, and the last reads all six ("to break the symmetry", the paper says).
C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


class ScaledTanh(nn.Module):
    """The paper's squashing function ``f(a) = A tanh(S a)``, ``A = 1.7159``, ``S = 2/3``,
    elementwise on any shape. ``A`` is chosen so that ``f(1) = 1`` and ``f(-1) = -1``."""

    amplitude = 1.7159
    slope = 2.0 / 3.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.amplitude * torch.tanh(self.slope * x)


class Subsampling(nn.AvgPool2d):
    """The paper's subsampling layer: ``(N, C, H, W)`` -> ``(N, C, H // 2, W // 2)``,

        y[n, c, i, j] = w_c * sum_{a, b in {0, 1}} x[n, c, 2i + a, 2j + b] + b_c

    with one trainable coefficient ``weight[c]`` and one bias ``bias[c]`` per map (2C
    parameters). The squashing function is a separate layer. The coefficient starts at
    1/4 and the bias at 0, so the layer starts as a plain 2x2 average.
    """

    def __init__(self, channels: int, size: int = 2):
        channels = arith.check_int("channels", channels, 1)
        super().__init__(size)
        self.weight = nn.Parameter(torch.full((channels,), 1.0 / (size * size)))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != len(self.weight):
            raise ValueError(f"Subsampling expects (N, {len(self.weight)}, H, W); got {tuple(x.shape)}")
        window_sum = super().forward(x) * (self.kernel_size * self.kernel_size)
        return window_sum * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class PartialConv2d(nn.Module):
    """A convolution in which output map k reads only the input maps ``table[k]``:
    ``(N, C_in, H, W)`` -> ``(N, len(table), H - F + 1, W - F + 1)``,

        out[:, k] = b_k + sum_{c in table[k]} w_{k,c} * x[:, c]     (* : cross-correlation)

    Parameters: one ``F x F`` filter per connected pair ``(k, c)`` (``weight``, shape
    ``(pairs, F, F)``) and one bias per output map: for C3, 60 * 25 + 16 = 1,516.
    Initialised like ``nn.Conv2d``: uniform in ``+-1/sqrt(fan_in)``, with ``fan_in`` the
    number of inputs that output map actually reads.
    """

    def __init__(self, in_channels: int, table, kernel_size: int):
        super().__init__()
        self.in_channels = arith.check_int("in_channels", in_channels, 1)
        self.kernel_size = arith.check_int("kernel_size", kernel_size, 1)
        self.table = tuple(tuple(int(c) for c in inputs) for inputs in table)
        for k, inputs in enumerate(self.table):
            if not inputs or len(set(inputs)) != len(inputs) or not set(inputs) <= set(range(in_channels)):
                raise ValueError(f"table[{k}] = {inputs} must list distinct input maps in "
                                 f"0..{in_channels - 1}, at least one")
        pairs = [(k, c) for k, inputs in enumerate(self.table) for c in inputs]
        self.register_buffer("out_index", torch.tensor([k for k, _ in pairs]), persistent=False)
        self.register_buffer("in_index", torch.tensor([c for _, c in pairs]), persistent=False)
        self.weight = nn.Parameter(torch.empty(len(pairs), kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(len(self.table)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            fan_in = torch.tensor([len(inputs) * self.kernel_size ** 2 for inputs in self.table],
                                  dtype=self.weight.dtype, device=self.weight.device)
            bound = fan_in.rsqrt()
            self.weight.uniform_(-1, 1).mul_(bound[self.out_index].view(-1, 1, 1))
            self.bias.uniform_(-1, 1).mul_(bound)

    def dense_weight(self) -> torch.Tensor:
        """The filters as an ordinary conv weight ``(len(table), C_in, F, F)``, zero where
        an output map does not read an input map."""
        dense = self.weight.new_zeros(len(self.table), self.in_channels, self.kernel_size, self.kernel_size)
        dense[self.out_index, self.in_index] = self.weight
        return dense

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.dense_weight(), self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {len(self.table)}, kernel_size={self.kernel_size}, pairs={len(self.weight)}"


class EuclideanRBF(nn.Module):
    """The paper's output layer: ``(N, in_features)`` -> scores ``(N, num_classes)``,

        score_i = -y_i = -sum_j (x_j - w_ij)^2

    with fixed centres ``w`` (``centres``, a buffer of random +-1 codes drawn with
    ``seed``; not trained, not counted as parameters). The class whose centre is nearest
    to ``x`` gets the highest score.
    """

    def __init__(self, in_features: int = 84, num_classes: int = 10, seed: int = 1998):
        super().__init__()
        in_features = arith.check_int("in_features", in_features, 1)
        num_classes = arith.check_int("num_classes", num_classes, 1)
        codes = np.random.default_rng(seed).choice([-1.0, 1.0], size=(num_classes, in_features))
        self.register_buffer("centres", torch.as_tensor(codes, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -(x.unsqueeze(1) - self.centres).square().sum(dim=-1)


def _modern_layers(num_classes: int) -> list:
    size = arith.conv_output_size(28, 5, padding=2)              # C1: 28
    size = arith.pool_output_size(size, 2)                       # S2: 14
    size = arith.pool_output_size(arith.conv_output_size(size, 5), 2)   # C3: 10, S4: 5
    return [
        ("conv1", nn.Conv2d(1, 6, 5, padding=2)), ("act1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(6, 16, 5)), ("act2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(16 * size * size, 120)), ("act3", nn.ReLU()),
        ("fc2", nn.Linear(120, 84)), ("act4", nn.ReLU()),
        ("fc3", nn.Linear(84, num_classes)),
    ]


def _paper_layers(num_classes: int) -> list:
    size = arith.conv_output_size(28, 5, padding=2)              # C1: 28
    size = arith.pool_output_size(size, 2)                       # S2: 14
    size = arith.pool_output_size(arith.conv_output_size(size, 5), 2)   # C3: 10, S4: 5
    size = arith.conv_output_size(size, 5)                       # C5: 1, its filters cover S4
    return [
        ("C1", nn.Conv2d(1, 6, 5, padding=2)), ("act1", ScaledTanh()),
        ("S2", Subsampling(6)), ("act2", ScaledTanh()),
        ("C3", PartialConv2d(6, C3_TABLE, 5)), ("act3", ScaledTanh()),
        ("S4", Subsampling(16)), ("act4", ScaledTanh()),
        ("C5", nn.Conv2d(16, 120, 5)), ("act5", ScaledTanh()),
        ("flatten", nn.Flatten()),
        ("F6", nn.Linear(120 * size * size, 84)), ("act6", ScaledTanh()),
        ("output", EuclideanRBF(84, num_classes)),
    ]


class LeNet5(Net):
    """LeNet-5 for ``(N, 1, 28, 28)`` images -> ``(N, num_classes)`` scores (logits).

    ``variant="relu-max"`` (ReLU, max pooling) or ``"1998"`` (the paper's network: see the
    module docstring for its layers and what is and is not reproduced).
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
        layers = _modern_layers(num_classes) if variant == "relu-max" else _paper_layers(num_classes)
        super().__init__(layers, input_shape=(1, 28, 28))
        self.variant = variant
