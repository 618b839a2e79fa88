"""LeNet-5 against an SVM: the pieces behind ``lectures/05_lenet.ipynb``.

Lecture: "MNIST Challenge Test Error: SVM vs. CNN" and "LeNet" (LeCun, Bottou, Bengio
and Haffner, *Gradient-based learning applied to document recognition*, Proc. IEEE 1998).

* :func:`paper_lenet5_layers` counts the paper's own LeNet-5, layer by layer, with its
  partial C3 connection table (:data:`cnnlab.nets.lenet.C3_TABLE`), trainable subsampling and fixed RBF
  output: 60,000 trainable parameters and 340,908 connections, as the paper states.
* :func:`comparison_rows` and :func:`plot_comparison` put the course's measured errors
  beside the published ones (:mod:`cnnlab.history`).
* :func:`epoch_speed` times one training pass of the NumPy LeNet-5
  (:mod:`cnnlab.reference`) and of the torch one (:mod:`cnnlab.nets`) on the same images.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from cnnlab import arith, history
from cnnlab.data.images import to_28x28, to_nchw_float
from cnnlab.nets.lenet import C3_TABLE

__all__ = ["PaperLayer", "paper_lenet5_layers", "ComparisonRow",
           "comparison_rows", "plot_comparison", "SpeedResult", "epoch_speed"]


@dataclass(frozen=True)
class PaperLayer:
    """One layer of the 1998 LeNet-5: its ``name``, output ``shape`` ``(maps, H, W)`` or
    ``(units,)``, trainable ``params`` and ``connections`` (multiply-adds, biases counted)."""

    name: str
    shape: tuple
    params: int
    connections: int


def paper_lenet5_layers() -> list[PaperLayer]:
    """The paper's LeNet-5 on a 32x32 input, counted from its description.

    ========  ==============================================  =======================
    layer     trainable parameters                            connections
    ========  ==============================================  =======================
    C1        6 filters 5x5x1 + bias: ``F*F*D1*K + K``         params x 28*28
    S2        a coefficient and a bias per map: 6*2            6*14*14 units x (4 + 1)
    C3        per map 5x5 x (inputs in :data:`C3_TABLE`) + 1   params x 10*10
    S4        16*2                                             16*5*5 x (4 + 1)
    C5        120 filters 5x5x16 + bias (1x1 output)           = params
    F6        84 x (120 + 1)                                   = params
    output    10 RBF units, 84 fixed weights each: 0           10*84
    ========  ==============================================  =======================

    Totals: 60,000 parameters and 340,908 connections (the paper, section II-B).
    Sizes come from :mod:`cnnlab.arith`.
    """
    c1 = arith.conv_output_size(32, 5, strict=True)                         # 28
    s2 = arith.pool_output_size(c1, 2, strict=True)                         # 14
    c3 = arith.conv_output_size(s2, 5, strict=True)                         # 10
    s4 = arith.pool_output_size(c3, 2, strict=True)                         # 5
    c5 = arith.conv_output_size(s4, 5, strict=True)                         # 1
    window = 2 * 2
    c1_params = arith.conv_param_count(5, 1, 6)
    c3_params = sum(arith.conv_param_count(5, len(inputs), 1) for inputs in C3_TABLE)
    c5_params = arith.conv_param_count(5, 16, 120)
    f6_params = 84 * (120 + 1)
    return [
        PaperLayer("C1", (6, c1, c1), c1_params, c1_params * c1 * c1),
        PaperLayer("S2", (6, s2, s2), 6 * 2, 6 * s2 * s2 * (window + 1)),
        PaperLayer("C3", (16, c3, c3), c3_params, c3_params * c3 * c3),
        PaperLayer("S4", (16, s4, s4), 16 * 2, 16 * s4 * s4 * (window + 1)),
        PaperLayer("C5", (120, c5, c5), c5_params, c5_params * c5 * c5),
        PaperLayer("F6", (84,), f6_params, f6_params),
        PaperLayer("output (RBF)", (10,), 0, 10 * 84),
    ]


@dataclass(frozen=True)
class ComparisonRow:
    """A test error in percent: ``method``, the ``dataset`` it was measured on and its
    ``source`` (a citation, or ``"this notebook"``)."""

    method: str
    error_percent: float
    dataset: str
    source: str


_LECUN = "LeCun et al. 1998"
_FASHION = "Xiao et al. 2017"
_OURS = "this notebook"
_DATASET_NAMES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "digits": "sklearn digits"}


def comparison_rows(dataset: str, measured: dict) -> list[ComparisonRow]:
    """The published errors next to ours.

    ``dataset`` is ``Dataset.name`` from :func:`cnnlab.data.load_with_fallback` (``"mnist"``,
    ``"fashion-mnist"`` or ``"digits"``); ``measured`` maps a method name to the test
    *accuracy* in [0, 1] measured on it. Returns LeCun et al.'s MNIST table
    (:data:`cnnlab.history.LECUN_1998_MNIST_ERRORS`), then, on Fashion-MNIST, the
    Fashion-MNIST paper's best SVC (:data:`cnnlab.history.FASHION_MNIST_SVC_ACCURACY`),
    then ours, each as an error ``100 * (1 - accuracy)`` in percent.
    """
    if dataset not in _DATASET_NAMES:
        raise ValueError(f"dataset must be one of {sorted(_DATASET_NAMES)} (Dataset.name), got {dataset!r}")
    for method, accuracy in measured.items():
        if not 0 <= accuracy <= 1:
            raise ValueError(f"measured[{method!r}] = {accuracy!r} is not an accuracy in [0, 1]")
    rows = [ComparisonRow(method, error, "MNIST", _LECUN)
            for method, error in history.LECUN_1998_MNIST_ERRORS.items()]
    if dataset == "fashion-mnist":
        rows.append(ComparisonRow("SVC (RBF, C=10)", round(100 * (1 - history.FASHION_MNIST_SVC_ACCURACY), 2),
                                  "Fashion-MNIST", _FASHION))
    rows += [ComparisonRow(method, 100 * (1 - accuracy), _DATASET_NAMES[dataset], _OURS)
             for method, accuracy in measured.items()]
    return rows


def plot_comparison(rows: list[ComparisonRow], ax=None):
    """Horizontal bars of test error (%), one colour *and* hatching per source, the value
    written at the end of each bar; returns the axes."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from cnnlab.plotting import OKABE_ITO

    styles = [(OKABE_ITO["sky_blue"], "//"), (OKABE_ITO["orange"], "xx"), (OKABE_ITO["bluish_green"], "")]
    sources = list(dict.fromkeys(row.source for row in rows))
    style = {source: styles[i % len(styles)] for i, source in enumerate(sources)}
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.2))
    y = np.arange(len(rows))[::-1]
    bars = ax.barh(y, [row.error_percent for row in rows], color=[style[r.source][0] for r in rows],
                   hatch=[style[r.source][1] for r in rows], edgecolor=OKABE_ITO["black"])
    ax.bar_label(bars, [f"{row.error_percent:.2f}%" for row in rows], padding=3, fontsize=8)
    ax.set_yticks(y, [f"{row.method} [{row.dataset}]" for row in rows])
    ax.set_xlabel("test error (%)")
    ax.set_xlim(0, max(row.error_percent for row in rows) * 1.18)
    ax.legend(handles=[Patch(facecolor=style[s][0], hatch=style[s][1], edgecolor=OKABE_ITO["black"], label=s)
                       for s in sources], loc="lower right")
    return ax


@dataclass(frozen=True)
class SpeedResult:
    """Seconds of one training pass over ``images`` images in batches of ``batch_size``:
    ``numpy_seconds`` (:class:`cnnlab.reference.NumpyLeNet5`), ``torch_seconds``
    (:class:`cnnlab.nets.LeNet5` through :func:`cnnlab.train.fit`, on ``device``)."""

    images: int
    batch_size: int
    numpy_seconds: float
    torch_seconds: float
    device: str

    @property
    def ratio(self) -> float:
        """How many times longer NumPy took than torch."""
        return self.numpy_seconds / self.torch_seconds


def epoch_speed(images, labels, *, batch_size: int = 64, lr: float = 0.05, momentum: float = 0.9,
                device="cpu", threads: int = 1, seed: int = 0) -> SpeedResult:
    """Train a fresh NumPy LeNet-5 and a fresh torch LeNet-5 for one pass over the same
    ``images`` (``uint8 (N, 28, 28)``, or 8x8, see :func:`cnnlab.data.to_28x28`) and ``labels``
    (``(N,)``), SGD + momentum, same batch size; return the two wall times. Each side first
    runs one batch untimed (warm-up).

    Both libraries get ``threads`` CPU threads (NumPy's BLAS through threadpoolctl, torch
    through ``torch.set_num_threads``, restored afterwards): one thread by default, which
    is fair and is not thrown off by other programs busy on the same cores. A single run is
    a rough figure; the careful measurement (repeats, medians) is
    ``benchmarks/numpy_vs_torch.py``.
    """
    import torch
    from threadpoolctl import threadpool_limits

    from cnnlab import nets, reference
    from cnnlab.train import TrainOptions, fit

    images = to_28x28(images)
    labels = np.asarray(labels)
    if len(images) != len(labels) or len(images) < batch_size:
        raise ValueError(f"need as many labels as images and at least one batch ({batch_size}); "
                         f"got {len(images)} images and {len(labels)} labels")
    threads = arith.check_int("threads", threads, 1)
    x = to_nchw_float(images)

    with threadpool_limits(limits=threads, user_api="blas"):
        numpy_net = reference.NumpyLeNet5(rng=seed)
        reference.train_step(numpy_net, x[:batch_size], labels[:batch_size], lr, momentum)   # warm-up
        numpy_net = reference.NumpyLeNet5(rng=seed)
        start = time.perf_counter()
        reference.train_epoch(numpy_net, x, labels, batch_size=batch_size, lr=lr, momentum=momentum,
                              rng=seed)
        numpy_seconds = time.perf_counter() - start

    common = dict(lr=lr, batch_size=batch_size, device=device, seed=seed,
                  options=TrainOptions(momentum=momentum, progress=False))
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(seed)
        fit(nets.LeNet5(), (images[:batch_size], labels[:batch_size]), epochs=1, **common)   # warm-up
        run = fit(nets.LeNet5(), (images, labels), epochs=1, **common)
    finally:
        torch.set_num_threads(torch_threads)
    return SpeedResult(len(images), batch_size, numpy_seconds, run.seconds[0], run.device)
