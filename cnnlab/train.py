"""One training loop for every torch model of the course, and the helpers to look at the result.

Lecture: the second half (LeNet-5 to batch normalization) trains every network with it.

    history = fit(LeNet5(), (X_train, y_train), (X_test, y_test), epochs=10, lr=0.05)
    evaluate(model, (X_test, y_test))            # accuracy in [0, 1]

Data
    ``(X, y)`` pairs of NumPy arrays or tensors. ``X``: ``uint8`` images ``(N, H, W)`` or
    ``(N, C, H, W)`` (scaled to float32 in [0, 1], a channel axis added when missing), or
    float images of the same shapes; ``y``: integer labels ``(N,)``. The whole set is moved
    to the device once and batches are taken by indexing it: no DataLoader and no worker
    processes (they hang in Jupyter on some systems). Each epoch visits the examples in a
    fresh random order.

Fast mode (``CNNLAB_FAST=1``, read by :func:`cnnlab.config.fast_mode`, or ``fast=True``)
    caps every epoch at :data:`FAST_MAX_BATCHES` (20) batches and validates on the first
    :data:`FAST_MAX_VAL` (1000) validation examples. The number of epochs, the batch size
    and the learning rate are left alone: notebooks choose them with
    ``cnnlab.config.pick(full, fast)``, e.g. ``epochs=pick(10, 1)``.

Device
    ``device=None`` takes :func:`cnnlab.config.get_device` (CUDA, then MPS, then CPU;
    ``CNNLAB_DEVICE`` overrides). On a CPU training is float32 and eager (``torch.compile``
    is slower than eager on a laptop's few cores). On CUDA it uses bf16 autocast (where
    the GPU supports bf16), channels-last memory and, with a constant learning rate, a
    CUDA graph of the whole training step (forward, backward, optimizer), replayed once
    per batch (with a constant learning rate, or any schedule with Adam, whose rate then
    lives in a device tensor); the graph needs equal-sized batches, so a last partial
    batch is dropped there (if capture fails, a warning says so and training runs
    eagerly). The epoch's
    loss and accuracy are summed on the device and read once per epoch, so the GPU is
    never stalled by a per-step ``.item()``. Each of ``amp``, ``channels_last`` and
    ``cuda_graphs`` can be turned off; on other devices they do nothing.

Reproducibility
    ``seed`` fixes the shuffling order and torch's random numbers (dropout). On a CPU two
    runs of the same model (built after the same ``seed_everything``) with the same seed
    give identical histories. The model's initial weights are the caller's business.
"""
from __future__ import annotations

import contextlib
import math
import time
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from cnnlab import config
from cnnlab.plotting import image_grid, series_style

__all__ = ["fit", "History", "evaluate", "predict", "as_tensors", "as_images", "confusion_matrix",
           "plot_confusion_matrix", "show_misclassified", "FAST_MAX_BATCHES", "FAST_MAX_VAL"]

FAST_MAX_BATCHES = 20
FAST_MAX_VAL = 1000
EVAL_BATCH = 1024
_OPTIMIZERS = ("sgd", "adam")
_SCHEDULES = ("constant", "cosine")


@dataclass
class History:
    """Per-epoch record of :func:`fit`: ``train_loss`` (mean cross-entropy over the epoch),
    ``train_acc`` (accuracy on the training batches as they were trained on), ``val_acc``
    (empty without validation data), ``seconds`` (wall time of the epoch, validation
    included) and ``samples`` (training examples seen). ``setup_seconds`` is the time
    spent before the first epoch (moving data, capturing a CUDA graph)."""

    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    samples: list = field(default_factory=list)
    setup_seconds: float = 0.0
    device: str = "cpu"
    cuda_graphs: bool = False

    def __len__(self) -> int:
        return len(self.train_loss)

    def to_dict(self) -> dict:
        return asdict(self)

    def plot(self, axes=None):
        """Loss (left) and accuracy (right) per epoch, Okabe-Ito colours plus distinct
        markers and line styles; returns the figure."""
        import matplotlib.pyplot as plt

        if axes is None:
            fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
        else:
            fig = axes[0].figure
        epochs = np.arange(1, len(self) + 1)
        ax_loss, ax_acc = axes
        ax_loss.plot(epochs, self.train_loss, label="train loss", **series_style(0))
        ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
        ax_acc.plot(epochs, self.train_acc, label="train", **series_style(0))
        if self.val_acc:
            ax_acc.plot(epochs, self.val_acc, label="validation", **series_style(1))
        ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
        for ax in axes:
            ax.legend()
        fig.tight_layout()
        return fig


# --------------------------------------------------------------------------- data

def as_images(X, name: str = "X") -> torch.Tensor:
    """Images -> float32 ``(N, C, H, W)`` tensor on the CPU: ``uint8`` scaled to [0, 1],
    ``(N, H, W)`` given a channel axis. ``ValueError`` (naming ``name``) for other shapes/types."""
    X = X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X))
    if X.dim() not in (3, 4):
        raise ValueError(f"{name} has shape {tuple(X.shape)}; expected images (N, H, W) or (N, C, H, W)")
    if X.dtype == torch.uint8:
        X = X.float().div_(255.0)
    elif X.is_floating_point():
        X = X.float()
    else:
        raise ValueError(f"{name}: images must be uint8 (0-255) or floating point, got {X.dtype}")
    if len(X) == 0:
        raise ValueError(f"{name} holds no images")
    return (X.unsqueeze(1) if X.dim() == 3 else X).contiguous()


def as_tensors(data, name: str = "data") -> tuple[torch.Tensor, torch.Tensor]:
    """``(X, y)`` -> ``(float32 (N, C, H, W) tensor, int64 (N,) tensor)`` on the CPU.

    Images as in :func:`as_images`; labels must be integers ``(N,)``, one per image.
    Raises ``ValueError`` naming ``name`` and the shapes otherwise.
    """
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(f"{name} must be a pair (X, y) of images and labels, got {type(data).__name__}")
    X, y = (v if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v)) for v in data)
    if y.dim() != 1 or y.is_floating_point() or y.dtype == torch.bool:
        raise ValueError(f"{name}: y must be integer class labels of shape (N,), got {y.dtype} {tuple(y.shape)}")
    if X.dim() >= 1 and len(X) != len(y):
        raise ValueError(f"{name}: X has {len(X)} images but y has {len(y)} labels "
                         f"(shapes {tuple(X.shape)} and {tuple(y.shape)}); they must match")
    return as_images(X, f"{name}: X"), y.long()


def _check_model_on(model: nn.Module, X: torch.Tensor, y: torch.Tensor | None, device, name: str) -> int:
    """Run two examples through ``model`` (eval mode, no grad); raise a clear ``ValueError``
    when the images do not fit it or a label is out of range. Returns the number of outputs."""
    expected = getattr(model, "input_shape", None)
    if expected is not None and tuple(X.shape[1:]) != tuple(expected):
        raise ValueError(f"{name}: images have shape {tuple(X.shape[1:])} (C, H, W) but "
                         f"{type(model).__name__} expects {tuple(expected)} (X has shape {tuple(X.shape)})")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(X[:2].to(device))
    except RuntimeError as err:
        raise ValueError(f"{name}: {type(model).__name__} cannot take images of shape "
                         f"{tuple(X.shape[1:])} (C, H, W): {err}") from err
    finally:
        model.train(was_training)
    if out.dim() != 2:
        raise ValueError(f"{type(model).__name__} returned shape {tuple(out.shape)}; fit needs logits (N, classes)")
    classes = out.shape[1]
    if y is not None and (int(y.min()) < 0 or int(y.max()) >= classes):
        raise ValueError(f"{name}: labels range over [{int(y.min())}, {int(y.max())}] but the model "
                         f"has {classes} outputs (classes 0..{classes - 1})")
    return classes


def _model_device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _bf16_ok(device: torch.device) -> bool:
    return device.type == "cuda" and torch.cuda.is_bf16_supported()


def _autocast(device: torch.device, amp: bool):
    if amp:
        return torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=False)
    return contextlib.nullcontext()


# --------------------------------------------------------------------------- steps

class _EagerStep:
    """One optimizer step on the batch ``X[idx], y[idx]``; loss and correct counts are
    summed on the device (``loss_sum``, ``correct``) and read once per epoch."""

    drop_last = False

    def __init__(self, model, opt, X, y, amp: bool):
        self.model, self.opt, self.X, self.y, self.amp = model, opt, X, y, amp
        self.loss_sum = torch.zeros((), device=X.device)
        self.correct = torch.zeros((), dtype=torch.long, device=X.device)

    def reset(self) -> None:
        self.loss_sum.zero_()
        self.correct.zero_()

    def _body(self, idx: torch.Tensor) -> None:
        xb, yb = self.X[idx], self.y[idx]
        with _autocast(self.X.device, self.amp):
            out = self.model(xb)
            loss = F.cross_entropy(out, yb)
        loss.backward()
        self.opt.step()
        self.loss_sum += loss.detach().float() * len(yb)
        self.correct += (out.argmax(1) == yb).sum()

    def __call__(self, idx: torch.Tensor) -> None:
        self.opt.zero_grad(set_to_none=True)
        self._body(idx)


class _GraphStep(_EagerStep):
    """The same step captured once as a CUDA graph and replayed for every batch.

    Capture follows PyTorch's recipe (warm-up iterations on a side stream, gradients
    set to None, then capture forward + backward + ``optimizer.step()``). The warm-up
    steps change the weights, so the model's state and the optimizer's state are put
    back afterwards: training starts from exactly the weights ``fit`` was given.
    Only the index tensor changes between replays (copied into ``self.idx``).
    """

    drop_last = True

    def __init__(self, model, opt, X, y, amp: bool, batch_size: int, warmup: int = 3):
        super().__init__(model, opt, X, y, amp)
        self.idx = torch.arange(batch_size, device=X.device)
        saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
        try:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(warmup):
                    super().__call__(self.idx)
            torch.cuda.current_stream().wait_stream(side)
            opt.zero_grad(set_to_none=True)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self._body(self.idx)
        finally:  # undo the warm-up steps, also when capture failed
            with torch.no_grad():
                model.load_state_dict(saved)
                for state in opt.state.values():
                    for value in state.values():
                        if isinstance(value, torch.Tensor):
                            value.zero_()
        self.reset()

    def __call__(self, idx: torch.Tensor) -> None:
        self.idx.copy_(idx)
        self.graph.replay()


def _make_optimizer(name: str, model: nn.Module, lr: float, momentum: float, weight_decay: float,
                    capturable: bool):
    """SGD with momentum, or Adam; a capturable Adam keeps its learning rate in a device
    tensor, which a CUDA graph reads at every replay, so a schedule can change it."""
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    if capturable:
        lr = torch.tensor(lr, device=_model_device(model))
    return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay, capturable=capturable)


def _set_lr(opt, value: float) -> None:
    for group in opt.param_groups:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(value)  # in place: the captured graph reads this memory
        else:
            group["lr"] = value


# --------------------------------------------------------------------------- fit

def fit(model: nn.Module, train, val=None, *, epochs: int, lr: float, batch_size: int = 128,
        optimizer: str = "sgd", momentum: float = 0.9, weight_decay: float = 0.0,
        schedule: str = "constant", device=None, seed: int = 0, progress: bool = True,
        live_plot: bool = False, max_batches: int | None = None, fast: bool | None = None,
        amp: bool | None = None, channels_last: bool | None = None,
        cuda_graphs: bool | None = None) -> History:
    """Train ``model`` in place with cross-entropy on ``train = (X, y)``; return a :class:`History`.

    Parameters
    ----------
    val : optional ``(X, y)`` evaluated after every epoch (``History.val_acc``).
    epochs, lr, batch_size : as usual; ``lr`` is the peak rate of the schedule.
    optimizer : ``"sgd"`` (with ``momentum``) or ``"adam"``; ``weight_decay`` for both.
    schedule : ``"constant"`` or ``"cosine"`` (per-step decay from ``lr`` to 0).
    device : ``None`` for :func:`cnnlab.config.get_device`, or e.g. ``"cpu"``, ``"cuda"``.
    seed : shuffling order and dropout (see the module note on reproducibility).
    progress : tqdm bar (``tqdm.auto``: a widget in Jupyter) with loss and accuracy.
    live_plot : redraw loss/accuracy after every epoch in a notebook (needs IPython).
    max_batches : stop each epoch after this many batches.
    fast : fast mode (see the module note); ``None`` reads ``CNNLAB_FAST``.
    amp, channels_last, cuda_graphs : CUDA speed-ups, on by default there (``None``);
        ignored on other devices. CUDA graphs are used with a constant learning rate,
        or with any schedule for Adam (SGD with ``"cosine"`` runs eagerly).

    Raises ``ValueError`` for mismatched ``X``/``y`` lengths, images the model does not
    take (the message names both shapes), labels outside the model's outputs, and bad
    options.
    """
    for label, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be a positive integer, got {value!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if optimizer not in _OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {_OPTIMIZERS}, got {optimizer!r}")
    if schedule not in _SCHEDULES:
        raise ValueError(f"schedule must be one of {_SCHEDULES}, got {schedule!r}")
    if max_batches is not None and (not isinstance(max_batches, int) or max_batches < 1):
        raise ValueError(f"max_batches must be a positive integer or None, got {max_batches!r}")
    start = time.perf_counter()
    device = config.get_device(device)
    fast = config.fast_mode() if fast is None else fast
    X, y = as_tensors(train, "train")
    Xv, yv = as_tensors(val, "val") if val is not None else (None, None)
    if fast:
        max_batches = min(max_batches or FAST_MAX_BATCHES, FAST_MAX_BATCHES)
        if Xv is not None:
            Xv, yv = Xv[:FAST_MAX_VAL], yv[:FAST_MAX_VAL]

    on_cuda = device.type == "cuda"
    amp = amp is not False and _bf16_ok(device)
    channels_last = on_cuda and channels_last is not False
    # a captured SGD step bakes its learning rate in; Adam's can follow a schedule (see _make_optimizer)
    use_graphs = (on_cuda and cuda_graphs is not False and len(X) >= batch_size
                  and (schedule == "constant" or optimizer == "adam"))
    model.to(device)
    _check_model_on(model, X, y, device, "train")
    if Xv is not None:
        _check_model_on(model, Xv, yv, device, "val")
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model.to(memory_format=memory_format)
    X, y = X.to(device).contiguous(memory_format=memory_format), y.to(device)
    if Xv is not None:
        Xv, yv = Xv.to(device).contiguous(memory_format=memory_format), yv.to(device)

    torch.manual_seed(seed)
    order = torch.Generator().manual_seed(seed)
    model.train()
    opt = _make_optimizer(optimizer, model, lr, momentum, weight_decay, capturable=use_graphs)
    step = None
    if use_graphs:
        try:
            step = _GraphStep(model, opt, X, y, amp, batch_size)
        except Exception as err:  # capture is best effort: fall back to eager, loudly
            warnings.warn(f"CUDA graph capture failed ({err!r}); training without it", RuntimeWarning)
            opt = _make_optimizer(optimizer, model, lr, momentum, weight_decay, capturable=False)
    if step is None:
        step = _EagerStep(model, opt, X, y, amp)
    n = len(X)
    # a last batch of one example would break batch norm in train mode: drop it
    drop_last = step.drop_last or (n % batch_size == 1 and n > 1)
    steps = n // batch_size if drop_last else math.ceil(n / batch_size)
    steps = min(steps, max_batches or steps)
    seen = min(steps * batch_size, n)
    history = History(device=str(device), cuda_graphs=isinstance(step, _GraphStep))
    history.setup_seconds = time.perf_counter() - start
    live = _LivePlot() if live_plot else None
    report_every = steps if on_cuda else max(1, steps // 10)

    bar = tqdm(total=epochs * steps, disable=not progress, unit="batch", leave=True)
    try:
        for epoch in range(epochs):
            t0 = time.perf_counter()
            bar.set_description(f"epoch {epoch + 1}/{epochs}")
            perm = torch.randperm(n, generator=order).to(device)
            step.reset()
            for i in range(steps):
                if schedule == "cosine":
                    _set_lr(opt, lr * 0.5 * (1 + math.cos(math.pi * (epoch * steps + i) / (epochs * steps))))
                step(perm[i * batch_size:(i + 1) * batch_size])
                bar.update(1)
                if progress and (i + 1) % report_every == 0 and i + 1 < steps:
                    done = min((i + 1) * batch_size, n)
                    bar.set_postfix({"loss": f"{step.loss_sum.item() / done:.3f}",
                                     "acc": f"{step.correct.item() / done:.3f}"})
            history.train_loss.append(step.loss_sum.item() / seen)
            history.train_acc.append(step.correct.item() / seen)
            history.samples.append(seen)
            postfix = {"loss": f"{history.train_loss[-1]:.3f}", "acc": f"{history.train_acc[-1]:.3f}"}
            if Xv is not None:
                history.val_acc.append(_accuracy(model, Xv, yv, amp))
                postfix["val_acc"] = f"{history.val_acc[-1]:.3f}"
            history.seconds.append(time.perf_counter() - t0)
            bar.set_postfix(postfix)
            if live is not None:
                live.update(history)
    finally:
        bar.close()
        opt.zero_grad(set_to_none=True)
    return history


class _LivePlot:
    """Loss and accuracy redrawn in place in a notebook after every epoch."""

    def __init__(self):
        try:
            from IPython.display import display
        except ImportError as err:
            raise ValueError("live_plot=True needs IPython (run fit in a Jupyter notebook)") from err
        import matplotlib.pyplot as plt

        self.fig, self.axes = plt.subplots(1, 2, figsize=(9, 3.2))
        plt.close(self.fig)  # shown through the display handle only, not again at the cell's end
        self.handle = display(self.fig, display_id=True)

    def update(self, history: History) -> None:
        for ax in self.axes:
            ax.clear()
        history.plot(axes=self.axes)
        if self.handle is not None:  # None outside a notebook kernel: nothing to redraw
            self.handle.update(self.fig)


# --------------------------------------------------------------------------- evaluation

def _logits_batches(model: nn.Module, X: torch.Tensor, amp: bool, batch_size: int = EVAL_BATCH):
    """Yield ``(start, logits)`` for consecutive batches of ``X`` (eval mode, no grad)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), _autocast(X.device, amp):
            for start in range(0, len(X), batch_size):
                yield start, model(X[start:start + batch_size])
    finally:
        model.train(was_training)


def _accuracy(model, X, y, amp: bool) -> float:
    correct = torch.zeros((), dtype=torch.long, device=X.device)
    for start, logits in _logits_batches(model, X, amp):
        correct += (logits.argmax(1) == y[start:start + len(logits)]).sum()
    return correct.item() / len(X)


def _prepare(model, X, y, device, name):
    """Move ``model`` (to ``device``, else leave it where it is) and ``X`` together; check shapes."""
    device = _model_device(model) if device is None else config.get_device(device)
    model.to(device)
    _check_model_on(model, X, y, device, name)
    return X.to(device), device


def evaluate(model: nn.Module, data, *, device=None) -> float:
    """Accuracy of ``model`` on ``data = (X, y)``, in [0, 1] (eval mode; the mode is restored).

    Runs where the model is unless ``device`` is given; bf16 autocast on CUDA (as in :func:`fit`).
    """
    X, y = as_tensors(data, "data")
    X, device = _prepare(model, X, y, device, "data")
    return _accuracy(model, X, y.to(device), _bf16_ok(device))


def predict(model: nn.Module, X, *, device=None) -> np.ndarray:
    """Predicted class (argmax of the logits) for every image of ``X``, as an int64 array."""
    X, device = _prepare(model, as_images(X, "X"), None, device, "X")
    preds = [logits.argmax(1) for _, logits in _logits_batches(model, X, _bf16_ok(device))]
    return torch.cat(preds).cpu().numpy()


def confusion_matrix(model_or_preds, data, *, num_classes: int | None = None) -> np.ndarray:
    """``(K, K)`` counts, row = true class, column = predicted class.

    ``model_or_preds`` is a model (run on ``data = (X, y)``) or an array of predicted
    labels (then ``data`` is ``(X, y)`` or just ``y``). ``K`` defaults to the largest
    label seen plus one.
    """
    if isinstance(data, (tuple, list)) and len(data) == 2:
        X, y = data
    else:
        X, y = None, data
    y = np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y).astype(np.int64)
    if isinstance(model_or_preds, nn.Module):
        if X is None:
            raise ValueError("confusion_matrix with a model needs data = (X, y)")
        preds = predict(model_or_preds, X)
    else:
        preds = np.asarray(model_or_preds.cpu() if isinstance(model_or_preds, torch.Tensor)
                           else model_or_preds).astype(np.int64)
    if preds.shape != y.shape:
        raise ValueError(f"predictions have shape {preds.shape} but labels have shape {y.shape}")
    k = num_classes or int(max(y.max(), preds.max())) + 1
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y, preds), 1)
    return cm


def plot_confusion_matrix(cm, class_names=None, *, normalize: bool = False, ax=None):
    """Heat map of a confusion matrix with the number written in every cell (so it reads
    without colour too); ``normalize`` shows each row as fractions of its true class."""
    import matplotlib.pyplot as plt

    cm = np.asarray(cm)
    values = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    if ax is None:
        _, ax = plt.subplots(figsize=(1 + 0.6 * len(cm), 0.6 * len(cm)))
    image = ax.imshow(values, cmap="Blues")
    names = class_names or [str(i) for i in range(len(cm))]
    ax.set_xticks(range(len(cm)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(cm)), names)
    ax.set(xlabel="predicted class", ylabel="true class")
    threshold = values.max() / 2
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, f"{v:.2f}" if normalize else str(v), ha="center", va="center", fontsize=7,
                color="white" if v > threshold else "black")
    ax.figure.colorbar(image, ax=ax)
    return ax


def show_misclassified(model: nn.Module, data, class_names=None, *, n: int = 20, ncols: int = 10):
    """Grid of the first ``n`` images of ``data = (X, y)`` that ``model`` gets wrong, each
    titled ``true -> predicted``; returns the figure."""
    X, y = data
    preds = predict(model, X)
    y = np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y)
    wrong = np.flatnonzero(preds != y)
    shown = wrong[:n]
    images = np.asarray(X.cpu() if isinstance(X, torch.Tensor) else X)[shown]
    if images.ndim == 4:
        images = images[:, 0] if images.shape[1] == 1 else images.transpose(0, 2, 3, 1)
    name = (lambda k: class_names[k]) if class_names else str
    fig = image_grid(images, ncols=ncols, title=f"{len(wrong)} of {len(y)} misclassified (true -> predicted)")
    for ax, i in zip(fig.axes, shown):
        ax.set_title(f"{name(int(y[i]))} ->\n{name(int(preds[i]))}", fontsize=7)
    return fig
