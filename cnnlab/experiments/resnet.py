"""Experiments of lecture notebook 09, ResNet (lecture: "ResNet (2015)" and "Long-Short-Term-Memory").

The degradation problem (He, Zhang, Ren and Sun, 2015): a deeper *plain* network (a stack
of conv layers) trains *worse* than a shallower one, while the same network with skip
connections (``out = relu(F(x) + x)``) does not. :func:`degradation_experiment` builds
:class:`cnnlab.nets.PlainNet` and :class:`cnnlab.nets.ResNet` of the same depths from the
same seed, measures the gradient reaching every conv layer at initialisation
(:func:`conv_gradient_norms`), trains both with :func:`cnnlab.train.fit` and records
their training loss and error (on the training batches as they were trained on).

Why the skip helps the gradient. For blocks ``x_{l+1} = x_l + F_l(x_l)`` the chain rule gives

    dL/dx_l = dL/dx_L * prod_{k=l}^{L-1} (I + dF_k/dx_k)

and expanding the product leaves a term ``dL/dx_L * I``: the gradient reaches every
block unattenuated, whatever the ``F_k`` do. A plain stack has only the product of the
``dF_k/dx_k`` (the "short path" that the LSTM's cell state also provides, see
:func:`chain_gain`).

:func:`complexity_rows` puts the published ImageNet figures (:mod:`cnnlab.history`)
next to the parameter counts and multiply-adds the course computes from the full-size
models of :mod:`cnnlab.nets`; :func:`plot_complexity` draws the bubble chart.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab import history as published
from cnnlab import nets
from cnnlab.data.images import as_tensors
from cnnlab.nets import count_mult_adds, in_mode, model_device
from cnnlab.plotting import OKABE_ITO, series_style
from cnnlab.train import History, TrainOptions, fit

__all__ = ["main_path_convs", "conv_gradient_norms", "DepthRun", "gradient_profiles",
           "degradation_experiment", "plot_gradient_norms", "plot_training", "chain_gain",
           "PUBLISHED_MULT_ADDS", "ComplexityRow", "complexity_rows", "plot_complexity"]


def main_path_convs(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """``(name, conv)`` for every conv layer in input-to-output order, without the 1x1
    projection shortcuts: ``depth - 1`` layers for a small ResNet/PlainNet (plus the final
    linear layer makes ``depth``)."""
    return [(name, m) for name, m in model.named_modules()
            if isinstance(m, nn.Conv2d) and "shortcut" not in name]


def conv_gradient_norms(model: nn.Module, data) -> np.ndarray:
    """Frobenius norm of ``dL/dW`` for every conv layer on the main path (input side first;
    the 1x1 shortcut projections are left out), ``L`` the mean cross-entropy of one
    forward/backward pass in train mode on ``data = (X, y)``, run where the model is.

    Returns float64 ``(n_convs,)``: ``depth - 1`` values for a small ResNet/PlainNet. The
    model's gradients are cleared afterwards and its mode restored.
    """
    X, y = as_tensors(data, "data")
    device = model_device(model)
    model.zero_grad(set_to_none=True)
    try:
        with in_mode(model, training=True):
            F.cross_entropy(model(X.to(device)), y.to(device)).backward()
        norms = [conv.weight.grad.norm().item() for _, conv in main_path_convs(model)]
    finally:
        model.zero_grad(set_to_none=True)
    return np.array(norms, dtype=np.float64)


@dataclass
class DepthRun:
    """One network of :func:`degradation_experiment`: ``kind`` ("plain" or "residual"),
    ``depth`` (weight layers), ``params``, ``grad_norms`` at initialisation (see
    :func:`conv_gradient_norms`) and the :class:`~cnnlab.train.History` of its training
    (``None`` for the untrained networks of :func:`gradient_profiles`).

    ``train_error`` is ``1 - history.train_acc[-1]``: the fraction of training examples
    misclassified during the last epoch, as the network saw them (train mode). Measuring
    it in eval mode instead would mix in a second effect: after a short training, batch
    norm's running averages still remember their initial values."""

    kind: str
    depth: int
    params: int
    grad_norms: np.ndarray
    history: History | None

    @property
    def train_error(self) -> float:
        return 1.0 - self.history.train_acc[-1]

    @property
    def final_loss(self) -> float:
        """Mean training loss over the last epoch."""
        return self.history.train_loss[-1]

    @property
    def mean_loss(self) -> float:
        """Training loss averaged over all epochs: low when the network trains fast. Steadier
        than ``final_loss`` from run to run (one noisy epoch moves it less)."""
        return float(np.mean(self.history.train_loss))

    @property
    def label(self) -> str:
        return f"{self.kind}-{self.depth}"


def _build(kind: str, depth: int, X: torch.Tensor, width: int, batch_norm: bool, seed: int, device):
    cls = {"plain": nets.PlainNet, "residual": nets.ResNet}[kind]
    torch.manual_seed(seed)
    model = cls(depth, in_channels=X.shape[1], input_size=X.shape[-1], width=width, batch_norm=batch_norm)
    return model if device is None else model.to(device)


def gradient_profiles(data, depths=(8, 20, 32), *, width: int = 8, batch_norm: bool = True, seed: int = 0,
                      device=None) -> list[DepthRun]:
    """Gradient norms at initialisation only (no training) of a plain and a residual network
    of each depth, on ``data = (X, y)`` (one batch: use a few hundred images). Returns
    :class:`DepthRun` objects with ``history=None``, plain then residual for each depth."""
    X, y = as_tensors(data, "data")
    runs = []
    for depth in depths:
        for kind in ("plain", "residual"):
            model = _build(kind, depth, X, width, batch_norm, seed, device)
            runs.append(DepthRun(kind, depth, nets.count_parameters(model), conv_gradient_norms(model, (X, y)), None))
    return runs


def degradation_experiment(train, depths=(8, 20, 32), *, epochs: int, lr: float = 0.05,
                           batch_size: int = 128, max_batches: int | None = None, width: int = 8,
                           batch_norm: bool = True, grad_batch: int = 256, seed: int = 0, device=None,
                           progress: bool = True) -> list[DepthRun]:
    """Plain and residual networks of each depth, trained side by side on ``train = (X, y)``.

    For every ``depth`` (``6n + 2``: 8, 14, 20, 26, 32, 44, 56, ...) a ``PlainNet`` and a
    ``ResNet`` are built with the same seed (``width`` channels in the first stage, then
    2x and 4x; ``batch_norm`` as given), their conv-layer gradient norms are measured on the
    first ``grad_batch`` training images, and each is trained with :func:`cnnlab.train.fit`
    (SGD with momentum 0.9, ``lr``, ``epochs``, ``batch_size``, ``max_batches`` per epoch),
    its progress bar labelled with the network (e.g. ``"ResNet-20 (residual)"``).
    Images ``X``: ``(N, H, W)`` or ``(N, 1, H, W)``; the nets are built for their size.

    Returns a list of :class:`DepthRun`, plain then residual for each depth in order.
    """
    X, y = as_tensors(train, "train")
    runs = []
    for depth in depths:
        for kind in ("plain", "residual"):
            model = _build(kind, depth, X, width, batch_norm, seed, device)
            grads = conv_gradient_norms(model, (X[:grad_batch], y[:grad_batch]))
            hist = fit(model, (X, y), epochs=epochs, lr=lr, batch_size=batch_size, max_batches=max_batches,
                       desc=f"{type(model).__name__}-{depth} ({kind})", seed=seed, device=device,
                       options=TrainOptions(progress=progress))
            runs.append(DepthRun(kind, depth, nets.count_parameters(model), grads, hist))
    return runs


def _style(run: DepthRun, depths: list[int]) -> dict:
    """Colour and marker by depth; plain dashed with hollow markers, residual solid and filled."""
    style = series_style(depths.index(run.depth))
    plain = run.kind == "plain"
    return {"color": style["color"], "marker": style["marker"], "linestyle": "--" if plain else "-",
            "markerfacecolor": "white" if plain else style["color"]}


def plot_gradient_norms(runs: list[DepthRun], ax=None, title: str | None = None):
    """Gradient norm (log scale) against conv layer index, one line per network; returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    depths = sorted({r.depth for r in runs})
    for run in runs:
        layers = np.arange(1, len(run.grad_norms) + 1)
        norms = np.maximum(run.grad_norms, np.finfo(np.float64).tiny)   # a log axis cannot show 0
        ax.semilogy(layers, norms, label=run.label, markersize=4, **_style(run, depths))
    ax.set(xlabel="conv layer (1 = next to the input)", ylabel="||dL/dW|| at initialisation (log)",
           title=title or "Gradient reaching each layer")
    ax.legend(fontsize=8, ncol=2)
    return ax


def plot_training(runs: list[DepthRun], axes=None):
    """Left: training error per epoch (on the batches as trained), one line per network, as
    in the ResNet paper's Figure 1. Right: training loss averaged over the epochs against
    depth, plain and residual. Returns the figure."""
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    else:
        fig = axes[0].figure
    depths = sorted({r.depth for r in runs})
    ax_err, ax_loss = axes
    for run in runs:
        epochs = np.arange(1, len(run.history) + 1)
        ax_err.plot(epochs, [100 * (1 - a) for a in run.history.train_acc], label=run.label, **_style(run, depths))
    ax_err.set(xlabel="epoch", ylabel="training error (%)", title="Training error", xticks=epochs)
    ax_err.legend(fontsize=8, ncol=2)
    for kind in ("plain", "residual"):
        chosen = [r for r in runs if r.kind == kind]
        plain = kind == "plain"
        ax_loss.plot([r.depth for r in chosen], [r.mean_loss for r in chosen], label=kind,
                     color=OKABE_ITO["vermillion" if plain else "blue"], linestyle="--" if plain else "-",
                     marker="s" if plain else "o", markerfacecolor="white" if plain else None)
    ax_loss.set(xlabel="depth (weight layers)", ylabel="training loss, mean over the epochs",
                title="Degradation: deeper plain nets train worse", xticks=depths)
    ax_loss.legend()
    fig.tight_layout()
    return fig


def chain_gain(weights, *, skip: bool) -> np.ndarray:
    """How a gradient scales through a chain of linear units ``x_{k+1} = w_k x_k`` (plain) or
    ``x_{k+1} = x_k + w_k x_k`` (with a skip): ``prod_k w_k`` or ``prod_k (1 + w_k)``,
    returned cumulatively from the output backwards (entry ``j`` = gain over the last
    ``j + 1`` units). With small ``|w_k|`` the plain product vanishes geometrically,
    the skipped one stays near 1: the LSTM's cell state ``c_t = f_t * c_{t-1} + ...`` with
    forget gate ``f_t`` near 1 is the same short path through time."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.size == 0:
        raise ValueError(f"weights must be a non-empty 1-D sequence, got shape {w.shape}")
    factors = 1.0 + w if skip else w
    return np.cumprod(factors[::-1])


#: Multiply-adds per 224x224 image as the papers state them: GoogLeNet "1.5 billion
#: multiply-adds" (Szegedy et al. 2014, section 1); VGG-19 "19.6 billion FLOPs" and
#: ResNet-152 "11.3 billion FLOPs" (He et al. 2015, section 4.1 and Table 1, where FLOPs
#: means multiply-adds).
PUBLISHED_MULT_ADDS = {"GoogLeNet": 1.5e9, "VGG-19": 19.6e9, "ResNet-152": 11.3e9}


@dataclass(frozen=True)
class ComplexityRow:
    """An ImageNet network: the published ``entry`` (:class:`cnnlab.history.ImageNetNetwork`),
    the course's own ``params`` and ``mult_adds`` (one image) counted from ``model_name``'s
    full-size model."""

    entry: published.ImageNetNetwork
    model_name: str
    params: int
    mult_adds: int

    @property
    def params_relative_difference(self) -> float:
        """(counted - published) / published parameters."""
        return (self.params / 1e6 - self.entry.params_millions) / self.entry.params_millions


def _full_size_models() -> dict:
    """Name in :data:`cnnlab.history.IMAGENET_NETWORKS` -> (course model name, builder, input shape)."""
    return {
        "AlexNet": ("AlexNet", nets.AlexNet, (3, 227, 227)),
        "VGG-19": ("VGG-19", lambda: nets.VGG(nets.VGG_CONFIGS[19], in_channels=3, input_size=224,
                                              num_classes=1000, hidden=(4096, 4096)), (3, 224, 224)),
        "GoogLeNet": ("GoogLeNet", nets.googlenet, (3, 224, 224)),
        "ResNet-152": ("ResNet-152", nets.resnet152, (3, 224, 224)),
    }


def complexity_rows() -> list[ComplexityRow]:
    """One :class:`ComplexityRow` per entry of :data:`cnnlab.history.IMAGENET_NETWORKS`, the
    models built on the meta device (nothing allocated; a few seconds on a CPU)."""
    builders = _full_size_models()
    rows = []
    for entry in published.IMAGENET_NETWORKS:
        if entry.name not in builders:
            raise KeyError(f"no full-size model for {entry.name!r}; known: {sorted(builders)}")
        name, build, shape = builders[entry.name]
        with torch.device("meta"):
            model = build()
        rows.append(ComplexityRow(entry, name, nets.count_parameters(model), count_mult_adds(model, shape)))
    return rows


#: Bubbles labelled on their left: up and to the right, ResNet-152's label would run into
#: VGG-19's bubble.
LABELS_LEFT = frozenset({"ResNet-152"})


def plot_complexity(rows: list[ComplexityRow], ax=None):
    """Bubble chart: published top-5 error against the counted parameters (millions, log
    scale), bubble area proportional to the counted multiply-adds, each bubble hatched
    differently and labelled with its name, year, depth and multiply-adds. Returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 5))
    hatches = ["//", "\\\\", "xx", ".."]
    for i, row in enumerate(rows):
        giga = row.mult_adds / 1e9
        area = 80 + 100 * giga                               # points^2
        ax.scatter(row.params / 1e6, row.entry.top5_error, s=area, color=series_style(i)["color"], alpha=0.6,
                   edgecolor="black", hatch=hatches[i % len(hatches)], zorder=3)
        offset = np.sqrt(area) / 2 + 4                       # just outside the bubble
        left = row.entry.name in LABELS_LEFT
        ax.annotate(f"{row.entry.name} ({row.entry.year})\n{row.entry.depth} layers, {giga:.1f} G mult-adds",
                    (row.params / 1e6, row.entry.top5_error),
                    xytext=(-offset, 0) if left else (offset * 0.7, offset * 0.7), textcoords="offset points",
                    ha="right" if left else "left", va="center" if left else "baseline", fontsize=8)
    ax.set_xscale("log")
    ax.set(xlabel="parameters (millions, counted by cnnlab.nets; log scale)",
           ylabel="published ILSVRC top-5 error (%)",
           title="Complexity vs accuracy (bubble area ~ multiply-adds per image)")
    ax.set_xlim(3, 1000)
    ax.set_ylim(0, 20)
    return ax
