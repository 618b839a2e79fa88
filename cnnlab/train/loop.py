"""The training loop (:func:`fit`) and what runs a trained model (:func:`evaluate`,
:func:`predict`, :func:`recompute_bn_stats`). See :mod:`cnnlab.train` for the data,
device and reproducibility rules."""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from cnnlab import config
from cnnlab.arith import check_int
from cnnlab.data.images import as_images, as_tensors
from cnnlab.nets.base import in_mode, model_device
from cnnlab.train.record import History, LivePlot
from cnnlab.train.steps import EagerStep, GraphStep, autocast, bf16_ok, make_optimizer, set_lr

__all__ = ["TrainOptions", "fit", "evaluate", "predict", "recompute_bn_stats"]

EVAL_BATCH = 1024
_OPTIMIZERS = ("sgd", "adam")
_SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainOptions:
    """The rarely changed settings of :func:`fit`, grouped so its signature stays short::

        fit(model, train, epochs=2, lr=0.1, options=TrainOptions(schedule="cosine", progress=False))

    momentum : SGD's momentum (Adam ignores it).
    weight_decay : L2 penalty, for SGD and Adam.
    schedule : ``"constant"`` or ``"cosine"`` (per-step decay from ``lr`` to 0).
    progress : show a tqdm bar (``tqdm.auto``: a widget in Jupyter) with loss and accuracy.
    live_plot : redraw loss/accuracy after every epoch in a notebook (needs IPython).
    amp, channels_last, cuda_graphs : CUDA speed-ups, on by default there (``None``);
        ignored on other devices. CUDA graphs are used with a constant learning rate,
        or with any schedule for Adam (SGD with ``"cosine"`` runs eagerly).
    """

    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "constant"
    progress: bool = True
    live_plot: bool = False
    amp: bool | None = None
    channels_last: bool | None = None
    cuda_graphs: bool | None = None


def _check_model_on(model: nn.Module, X: torch.Tensor, y: torch.Tensor | None, device, name: str) -> int:
    """Run two examples through ``model`` (eval mode, no grad); raise a clear ``ValueError``
    when the images do not fit it or a label is out of range. Returns the number of outputs."""
    expected = getattr(model, "input_shape", None)
    if expected is not None and tuple(X.shape[1:]) != tuple(expected):
        raise ValueError(f"{name}: images have shape {tuple(X.shape[1:])} (C, H, W) but "
                         f"{type(model).__name__} expects {tuple(expected)} (X has shape {tuple(X.shape)})")
    try:
        with in_mode(model), torch.no_grad():
            out = model(X[:2].to(device))
    except RuntimeError as err:
        raise ValueError(f"{name}: {type(model).__name__} cannot take images of shape "
                         f"{tuple(X.shape[1:])} (C, H, W): {err}") from err
    if out.dim() != 2:
        raise ValueError(f"{type(model).__name__} returned shape {tuple(out.shape)}; fit needs logits (N, classes)")
    classes = out.shape[1]
    if y is not None and (int(y.min()) < 0 or int(y.max()) >= classes):
        raise ValueError(f"{name}: labels range over [{int(y.min())}, {int(y.max())}] but the model "
                         f"has {classes} outputs (classes 0..{classes - 1})")
    return classes


def _check_arguments(epochs, lr, batch_size, optimizer, max_batches, options: TrainOptions) -> None:
    check_int("epochs", epochs, 1)
    check_int("batch_size", batch_size, 1)
    if max_batches is not None:
        check_int("max_batches (None for whole epochs)", max_batches, 1)
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if optimizer not in _OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {_OPTIMIZERS}, got {optimizer!r}")
    if options.schedule not in _SCHEDULES:
        raise ValueError(f"schedule must be one of {_SCHEDULES}, got {options.schedule!r}")


def _make_step(model, optimizer, lr, options: TrainOptions, X, y, amp: bool, batch_size: int, use_graphs: bool):
    """A :class:`GraphStep` when asked and capture works (else a warning), otherwise an
    :class:`EagerStep`; returned with its optimizer."""
    opt = make_optimizer(optimizer, model, lr, options.momentum, options.weight_decay, capturable=use_graphs)
    if use_graphs:
        try:
            return GraphStep(model, opt, X, y, amp, batch_size), opt
        except Exception as err:  # capture is best effort: fall back to eager, loudly
            warnings.warn(f"CUDA graph capture failed ({err!r}); training without it", RuntimeWarning)
            opt = make_optimizer(optimizer, model, lr, options.momentum, options.weight_decay, capturable=False)
    return EagerStep(model, opt, X, y, amp), opt


def fit(model: nn.Module, train, val=None, *, epochs: int, lr: float, batch_size: int = 128,
        optimizer: str = "sgd", max_batches: int | None = None, desc: str = "", seed: int = 0,
        device=None, options: TrainOptions = TrainOptions()) -> History:
    """Train ``model`` in place with cross-entropy on ``train = (X, y)``; return a :class:`History`.

    Parameters
    ----------
    val : optional ``(X, y)`` evaluated after every epoch (``History.val_acc``).
    epochs, lr, batch_size : as usual; ``lr`` is the peak rate of the schedule.
    optimizer : ``"sgd"`` (with momentum, see :class:`TrainOptions`) or ``"adam"``.
    max_batches : stop each epoch after this many batches (``None``: whole epochs). Fast
        mode does not set it: a notebook that wants short epochs passes it, e.g.
        ``max_batches=config.pick(None, 20)``.
    desc : what is trained, shown on the progress bar and kept in ``History.desc``
        (e.g. ``"ResNet-20, residual"``).
    seed : shuffling order and dropout (see :mod:`cnnlab.train` on reproducibility).
    device : ``None`` for :func:`cnnlab.config.get_device`, or e.g. ``"cpu"``, ``"cuda"``.
    options : the rarely changed settings, a :class:`TrainOptions`.

    Raises ``ValueError`` for mismatched ``X``/``y`` lengths, images the model does not
    take (the message names both shapes), labels outside the model's outputs, and bad
    options.
    """
    _check_arguments(epochs, lr, batch_size, optimizer, max_batches, options)
    start = time.perf_counter()
    device = config.get_device(device)
    X, y = as_tensors(train, "train")
    Xv, yv = as_tensors(val, "val") if val is not None else (None, None)

    on_cuda = device.type == "cuda"
    amp = options.amp is not False and bf16_ok(device)
    memory_format = torch.channels_last if on_cuda and options.channels_last is not False else torch.contiguous_format
    # a captured SGD step bakes its learning rate in; Adam's can follow a schedule (see make_optimizer)
    use_graphs = (on_cuda and options.cuda_graphs is not False and len(X) >= batch_size
                  and (options.schedule == "constant" or optimizer == "adam"))
    model.to(device)
    _check_model_on(model, X, y, device, "train")
    if Xv is not None:
        _check_model_on(model, Xv, yv, device, "val")
        Xv, yv = Xv.to(device).contiguous(memory_format=memory_format), yv.to(device)
    model.to(memory_format=memory_format)
    X, y = X.to(device).contiguous(memory_format=memory_format), y.to(device)

    torch.manual_seed(seed)
    order = torch.Generator().manual_seed(seed)
    model.train()
    step, opt = _make_step(model, optimizer, lr, options, X, y, amp, batch_size, use_graphs)
    n = len(X)
    # a last batch of one example would break batch norm in train mode: drop it
    drop_last = step.drop_last or (n % batch_size == 1 and n > 1)
    steps = n // batch_size if drop_last else math.ceil(n / batch_size)
    steps = min(steps, max_batches or steps)
    seen = min(steps * batch_size, n)
    history = History(device=str(device), cuda_graphs=isinstance(step, GraphStep), desc=desc)
    history.setup_seconds = time.perf_counter() - start
    live = LivePlot() if options.live_plot else None
    report_every = steps if on_cuda else max(1, steps // 10)
    batch_losses = torch.zeros(steps, device=device)

    bar = tqdm(total=epochs * steps, disable=not options.progress, unit="batch", leave=True)
    try:
        for epoch in range(epochs):
            t0 = time.perf_counter()
            bar.set_description(f"{desc}: epoch {epoch + 1}/{epochs}" if desc else f"epoch {epoch + 1}/{epochs}")
            perm = torch.randperm(n, generator=order).to(device)
            step.reset()
            for i in range(steps):
                if options.schedule == "cosine":
                    set_lr(opt, lr * 0.5 * (1 + math.cos(math.pi * (epoch * steps + i) / (epochs * steps))))
                step(perm[i * batch_size:(i + 1) * batch_size])
                batch_losses[i] = step.last_loss
                bar.update(1)
                if options.progress and (i + 1) % report_every == 0 and i + 1 < steps:
                    done = min((i + 1) * batch_size, n)
                    bar.set_postfix({"loss": f"{step.loss_sum.item() / done:.3f}",
                                     "acc": f"{step.correct.item() / done:.3f}"})
            history.train_loss.append(step.loss_sum.item() / seen)
            history.train_acc.append(step.correct.item() / seen)
            history.samples.append(seen)
            history.batch_loss += batch_losses.tolist()
            history.batch_epoch += [epoch + (i + 1) / steps for i in range(steps)]
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


def _logits_batches(model: nn.Module, X: torch.Tensor, amp: bool, batch_size: int = EVAL_BATCH):
    """Yield ``(start, logits)`` for consecutive batches of ``X`` (eval mode, no grad)."""
    with in_mode(model), torch.no_grad(), autocast(X.device, amp):
        for start in range(0, len(X), batch_size):
            yield start, model(X[start:start + batch_size])


def _accuracy(model, X, y, amp: bool) -> float:
    correct = torch.zeros((), dtype=torch.long, device=X.device)
    for start, logits in _logits_batches(model, X, amp):
        correct += (logits.argmax(1) == y[start:start + len(logits)]).sum()
    return correct.item() / len(X)


def _prepare(model, X, y, device, name):
    """Move ``model`` (to ``device``, else leave it where it is) and ``X`` together; check shapes."""
    device = model_device(model) if device is None else config.get_device(device)
    model.to(device)
    _check_model_on(model, X, y, device, name)
    return X.to(device), device


def evaluate(model: nn.Module, data, *, device=None) -> float:
    """Accuracy of ``model`` on ``data = (X, y)``, in [0, 1] (eval mode; the mode is restored).

    Runs where the model is unless ``device`` is given; bf16 autocast on CUDA (as in :func:`fit`).
    """
    X, y = as_tensors(data, "data")
    X, device = _prepare(model, X, y, device, "data")
    return _accuracy(model, X, y.to(device), bf16_ok(device))


def predict(model: nn.Module, X, *, device=None) -> np.ndarray:
    """Predicted class (argmax of the logits) for every image of ``X``, as an int64 array ``(N,)``."""
    X, device = _prepare(model, as_images(X, "X"), None, device, "X")
    preds = [logits.argmax(1) for _, logits in _logits_batches(model, X, bf16_ok(device))]
    return torch.cat(preds).cpu().numpy()


def _batch_norms(model: nn.Module) -> list[nn.Module]:
    """Batch-norm layers of ``model``: torch's and :class:`cnnlab.nets.BatchNorm2d` (anything
    with running averages and a momentum)."""
    return [m for m in model.modules()
            if all(hasattr(m, name) for name in ("running_mean", "running_var", "momentum"))]


def recompute_bn_stats(model: nn.Module, X, *, batch_size: int = 256) -> None:
    """Re-estimate every batch-norm layer's running mean and variance over the images ``X``
    (the training images, typically), with the weights left as they are.

    After a short training the running averages (an exponential average with momentum
    0.1) still remember their initial values (mean 0, variance 1), and eval mode, which
    uses them, can then score far below what the network learned. This resets them and
    feeds ``X`` through the model in train mode, ``batch_size`` images at a time, with
    ``momentum = None`` (a cumulative average over the batches, as
    ``torch.optim.swa_utils.update_bn`` does), so they become the statistics of ``X``.
    The model's train/eval mode and the layers' momenta are restored. ``X``: images as
    :func:`cnnlab.data.as_images` takes (``(N, H, W)`` or ``(N, C, H, W)``).
    """
    check_int("batch_size", batch_size, 1)
    images = as_images(X, "X").to(model_device(model))
    layers = _batch_norms(model)
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.running_mean.zero_()
        layer.running_var.fill_(1.0)
        layer.num_batches_tracked.zero_()
        layer.momentum = None
    try:
        with in_mode(model, training=True), torch.no_grad():
            for start in range(0, len(images), batch_size):
                model(images[start:start + batch_size])
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
