"""AlexNet's costs, dropout's two conventions and the overfitting experiment of
``lectures/06_alexnet_dropout.ipynb``.

Lecture: "AlexNet (2012): Architecture" and "AlexNet (2012): Dropout" (Krizhevsky et al.
2012, Srivastava et al. 2014).

:func:`alexnet_layer_costs` counts the parameters and multiply-adds of each weight layer
of the ImageNet AlexNet with :mod:`cnnlab.arith`; :func:`plot_layer_costs` shows that the
fully connected layers hold most parameters while the convolutions do most of the work.

Dropout. With ``p`` the probability of *keeping* a unit:

* the lecture's rule (:func:`dropout_lecture`): in training keep every unit with
  probability ``p`` (zero it with probability ``1 - p``); at test time multiply every
  unit by ``p``;
* inverted dropout (:func:`cnnlab.reference.dropout_forward`, and ``torch.nn.Dropout``):
  in training keep with probability ``p`` and divide the survivors by ``p``; at test
  time do nothing.

For a unit ``x`` and a mask ``m ~ Bernoulli(p)``::

    lecture:   train out = m x       E = p x    Var = p (1 - p) x^2       test out = p x
    inverted:  train out = m x / p   E = x      Var = (1 - p) / p * x^2   test out = x

so in both the test output is the expected training output, and the two networks differ
only by the constant factor ``p``, which the next layer's weights can absorb.
:func:`expectation_check` measures this with many masks; :func:`plot_gap` draws the
train/validation curves of networks trained with and without dropout, whose weights
:func:`he_initialize` sets first.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnlab.arith import check_int

__all__ = ["LayerCost", "alexnet_layer_costs", "plot_layer_costs", "dropout_lecture", "ExpectationCheck",
           "expectation_check", "he_initialize", "plot_gap"]


@dataclass(frozen=True)
class LayerCost:
    """One weight layer: ``name``, ``kind`` (``"conv"`` or ``"fc"``), its ``params`` and the
    ``mult_adds`` it spends on one image."""

    name: str
    kind: str
    params: int
    mult_adds: int


def alexnet_layer_costs(groups: int = 2) -> list[LayerCost]:
    """Parameters and multiply-adds of AlexNet's eight weight layers on a 227x227x3 image.

    Convolutions ``(F, stride, padding, K)``: conv1 11/4/0/96, conv2 5/1/2/256, conv3-5
    3/1/1/384, 384, 256; 3x3 stride-2 max pooling after conv1, conv2 and conv5; then
    fc6 9216 -> 4096, fc7 4096 -> 4096, fc8 4096 -> 1000. With ``groups=2`` (the paper's
    two GPUs) conv2, conv4 and conv5 see only half of their input channels, so a filter
    has ``F*F*(D1/2)`` weights. Conv: ``F*F*D1*K + K`` parameters and ``H_out*W_out*K*F*F*D1``
    multiply-adds (:func:`cnnlab.arith.conv_param_count`, :func:`cnnlab.arith.conv_mult_adds`);
    fully connected ``n_in -> n_out``: ``n_in*n_out + n_out`` parameters, ``n_in*n_out``
    multiply-adds. Totals for ``groups=2``: 60,965,224 parameters, 724,406,816 multiply-adds.
    """
    from cnnlab import arith

    if groups not in (1, 2):
        raise ValueError(f"groups must be 2 (the paper's two GPUs) or 1 (one tower), got {groups!r}")
    convs = [("conv1", 11, 4, 0, 96, 1, True), ("conv2", 5, 1, 2, 256, groups, True),
             ("conv3", 3, 1, 1, 384, 1, False), ("conv4", 3, 1, 1, 384, groups, False),
             ("conv5", 3, 1, 1, 256, groups, True)]
    size, depth, costs = 227, 3, []
    for name, f, stride, padding, k, g, pooled in convs:
        size = arith.conv_output_size(size, f, stride, padding, strict=True)
        d_in = depth // g
        costs.append(LayerCost(name, "conv", arith.conv_param_count(f, d_in, k),
                               arith.conv_mult_adds((size, size), f, d_in, k)))
        depth = k
        if pooled:
            size = arith.pool_output_size(size, 3, stride=2)
    n_in = depth * size * size                                         # 256 * 6 * 6 = 9216
    for name, n_out in [("fc6", 4096), ("fc7", 4096), ("fc8", 1000)]:
        costs.append(LayerCost(name, "fc", n_in * n_out + n_out, n_in * n_out))
        n_in = n_out
    return costs


def plot_layer_costs(costs: list[LayerCost], axes=None):
    """Two bar charts, share of parameters and share of multiply-adds per layer, with
    convolutions and fully connected layers told apart by colour *and* hatching and
    every bar labelled with its percentage. Returns the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from cnnlab.plotting import OKABE_ITO

    style = {"conv": (OKABE_ITO["sky_blue"], "//"), "fc": (OKABE_ITO["vermillion"], "..")}
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    fig = axes[0].figure
    x = np.arange(len(costs))
    for ax, field, title in [(axes[0], "params", "parameters"), (axes[1], "mult_adds", "multiply-adds per image")]:
        values = np.array([getattr(c, field) for c in costs], dtype=float)
        share = 100 * values / values.sum()
        bars = ax.bar(x, share, color=[style[c.kind][0] for c in costs], hatch=[style[c.kind][1] for c in costs],
                      edgecolor=OKABE_ITO["black"])
        ax.bar_label(bars, [f"{v:.1f}%" for v in share], fontsize=8)
        ax.set_xticks(x, [c.name for c in costs])
        ax.set(xlabel="layer", ylabel="share of the network's total (%)", title=f"AlexNet: {title} per layer")
    axes[0].legend(handles=[Patch(facecolor=style[k][0], hatch=style[k][1], edgecolor=OKABE_ITO["black"],
                                  label=label) for k, label in [("conv", "convolutional"), ("fc", "fully connected")]])
    fig.tight_layout()
    return fig


def _check_keep(p_keep: float) -> float:
    if not 0 < p_keep <= 1:
        raise ValueError(f"p_keep is the probability of keeping a unit and must be in (0, 1], got {p_keep!r}")
    return float(p_keep)


def dropout_lecture(x, p_keep: float, train: bool = True, rng=None) -> np.ndarray:
    """The lecture's dropout on an array ``x`` of any shape (output has the same shape).

    ``train=True``: each entry kept with probability ``p_keep``, else zeroed (no scaling).
    ``train=False``: ``p_keep * x``. ``rng``: a ``numpy.random.Generator`` or a seed.
    """
    p_keep = _check_keep(p_keep)
    x = np.asarray(x, dtype=float)
    if not train:
        return p_keep * x
    keep = np.random.default_rng(rng).random(x.shape) < p_keep
    return x * keep


@dataclass(frozen=True)
class ExpectationCheck:
    """Per unit (arrays of the shape of ``x``), for ``draws`` training masks:
    ``train_mean`` (average training output), ``test`` (test-time output) and
    ``standard_error`` (of ``train_mean``, from the Bernoulli variance in the module note)."""

    convention: str
    train_mean: np.ndarray
    test: np.ndarray
    standard_error: np.ndarray
    draws: int

    @property
    def max_z(self) -> float:
        """Largest ``|train_mean - test| / standard_error`` over the units (units with
        ``x = 0``, whose error is 0 both ways, are left out)."""
        moving = self.standard_error > 0
        return float(np.max(np.abs(self.train_mean - self.test)[moving] / self.standard_error[moving]))


def expectation_check(x, p_keep: float, draws: int = 10_000, rng=None) -> dict[str, ExpectationCheck]:
    """Average ``draws`` training passes of a 1-D vector ``x`` under both conventions.

    Returns ``{"lecture": ..., "inverted": ...}``. The inverted one calls
    :func:`cnnlab.reference.dropout_forward` with ``p_drop = 1 - p_keep``. Each
    ``train_mean`` should lie within a few ``standard_error`` of ``test``: for one unit
    ``|z| > 5`` has probability below ``6e-7``.
    """
    from cnnlab.reference import dropout_forward

    p_keep = _check_keep(p_keep)
    x = np.asarray(x, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"x must be a 1-D vector, got shape {x.shape}")
    draws = check_int("draws", draws, 2)
    rng = np.random.default_rng(rng)
    batch = np.broadcast_to(x, (draws, len(x)))
    lecture_out = dropout_lecture(batch, p_keep, train=True, rng=rng)
    inverted_out, _ = dropout_forward(batch, 1 - p_keep, train=True, rng=rng)
    inverted_test, _ = dropout_forward(x, 1 - p_keep, train=False)
    spread = np.sqrt(p_keep * (1 - p_keep) / draws) * np.abs(x)       # SE of the mean of m x
    return {
        "lecture": ExpectationCheck("lecture", lecture_out.mean(axis=0),
                                    dropout_lecture(x, p_keep, train=False), spread, draws),
        "inverted": ExpectationCheck("inverted", inverted_out.mean(axis=0), np.asarray(inverted_test),
                                     spread / p_keep, draws),
    }


def he_initialize(model, seed: int | None = None):
    """Re-draw every ``Conv2d`` and ``Linear`` weight of ``model`` from ``N(0, 2 / fan_in)``
    (He et al. 2015; ``fan_in`` = inputs per output unit) and set the biases to 0, in
    place; returns ``model``. ``seed`` seeds torch first.

    torch's default draws weights with variance ``1 / (3 fan_in)``, a third of what keeps
    the signal's size through a ReLU layer; through the five convolutions, two LRNs and
    three poolings of :class:`cnnlab.nets.SmallAlexNet` the signal shrinks so much that
    training sits at chance for the first epochs. (Krizhevsky et al. used ``N(0, 0.01^2)``
    and biases of 1 in some layers, tuned for their 224x224 inputs.)
    """
    import torch
    from torch import nn

    if seed is not None:
        torch.manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                if module.bias is not None:
                    module.bias.zero_()
    return model


def plot_gap(histories: dict, axes=None):
    """Left: train and validation accuracy per epoch of each run; right: the gap
    ``train - validation`` per epoch. ``histories`` maps a label to a
    :class:`cnnlab.train.History` with ``val_acc``. Each run has its own colour and
    marker; train is solid with filled markers, validation dashed with hollow ones.
    Returns the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from cnnlab.plotting import CYCLE, MARKERS

    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    fig = axes[0].figure
    ax_acc, ax_gap = axes
    for i, (label, run) in enumerate(histories.items()):
        if len(run.val_acc) != len(run.train_acc):
            raise ValueError(f"run {label!r} has no validation accuracy per epoch: train it with val data")
        epochs = np.arange(1, len(run) + 1)
        style = dict(color=CYCLE[i % len(CYCLE)], marker=MARKERS[i % len(MARKERS)])
        ax_acc.plot(epochs, run.train_acc, linestyle="-", label=f"{label}: train", **style)
        ax_acc.plot(epochs, run.val_acc, linestyle="--", markerfacecolor="white", label=f"{label}: validation",
                    **style)
        ax_gap.plot(epochs, np.subtract(run.train_acc, run.val_acc), linestyle=["-", "--", "-.", ":"][i % 4],
                    label=label, **style)
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Accuracy per epoch")
    ax_gap.axhline(0, color="black", linewidth=0.8)
    ax_gap.set(xlabel="epoch", ylabel="train - validation accuracy", title="Overfitting gap per epoch")
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
