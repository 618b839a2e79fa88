"""Experiments of lecture notebook 10 (lecture: "Batch Normalization", Algorithm 2, and
"BatchNorm at Test"; Ioffe and Szegedy, 2015).

* :func:`small_bn_net` builds the small conv net of the experiment, a
  :class:`cnnlab.nets.VGG` with two 3x3 conv blocks, with or without batch norm, and
  with a chosen initialisation of its weights.
* :func:`lr_init_sweep` trains it with and without batch norm for every learning rate
  and initialisation (``cnnlab.train.fit``) and records the final validation accuracy.
* :func:`logits_with_companions` shows why a model must be put in ``eval()`` mode to
  predict: in train mode, batch norm normalizes with the statistics of the batch, so the
  output for one image depends on which other images share its batch.
* :func:`accuracy_in_batches` measures the damage on a test set fed in batches, random
  or sorted by class (every batch skewed to one or two classes).

Running a model in train mode also moves its running averages, even under
``torch.no_grad()``; the two functions that do it work on a copy and leave the model alone.
"""
from __future__ import annotations

import copy
from typing import Sequence

import numpy as np
import torch
from torch import nn

from cnnlab import config
from cnnlab.nets import VGG
from cnnlab.nets.base import model_device
from cnnlab.data.images import as_images, as_tensors
from cnnlab.train import TrainOptions, fit

__all__ = ["INITS", "NET_CONFIG", "small_bn_net", "lr_init_sweep", "logits_with_companions",
           "accuracy_in_batches"]

#: Conv layers of the experiment's net: 8 and 16 channels of 3x3, each followed by a 2x2 pool.
NET_CONFIG = (8, "M", 16, "M")
#: Initialisations of the weights (biases stay as PyTorch sets them):
#: ``"default"`` is PyTorch's (uniform, std = 1 / sqrt(3 fan_in)); ``"he"`` is He et al.'s
#: normal with std = sqrt(2 / fan_in) for ReLU networks, about 2.4 times larger; ``"small"``
#: is PyTorch's default scaled by 0.3.
INITS = ("default", "he", "small")


def small_bn_net(batch_norm: bool, init: str = "default", seed: int = 0, hidden: int = 32,
                 input_size: int = 28) -> VGG:
    """``VGG(NET_CONFIG, hidden=(hidden,), dropout=0)`` for ``(N, 1, input_size, input_size)``
    images (28 for MNIST / Fashion-MNIST, 8 for scikit-learn's digits), 10 classes.

    With ``batch_norm`` a ``BatchNorm2d`` follows each conv and a ``BatchNorm1d`` the hidden
    fully connected layer (and those layers drop their bias). Weights are drawn after
    ``cnnlab.config.seed_everything(seed)`` and then set by ``init`` (one of :data:`INITS`).
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    config.seed_everything(seed)
    model = VGG(NET_CONFIG, input_size=input_size, hidden=(hidden,), batch_norm=batch_norm, dropout=0.0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                if init == "he":
                    nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                elif init == "small":
                    module.weight.mul_(0.3)
    return model


def lr_init_sweep(train, val, lrs: Sequence[float], inits: Sequence[str] = ("default",),
                  batch_norm: Sequence[bool] = (False, True), *, epochs: int, batch_size: int = 64,
                  max_batches: int | None = None, seed: int = 0, progress: bool = True,
                  device=None) -> list[dict]:
    """Train :func:`small_bn_net` for every ``(batch_norm, init, lr)`` with SGD + momentum 0.9.

    ``train`` and ``val`` are ``(images, labels)`` pairs as :func:`cnnlab.train.fit` takes
    them (square images; the net is built for their size); ``max_batches`` caps each epoch
    (see :func:`cnnlab.train.fit`), and each run's progress bar names its setting. Returns one
    dict per run: ``batch_norm``, ``init``, ``lr``, ``val_acc`` (after the
    last epoch, eval mode), ``train_acc`` (last epoch, as trained), ``history`` (the
    :class:`cnnlab.train.History`) and ``model`` (the trained net).
    """
    input_size = int(np.shape(train[0])[-1])
    runs = []
    for bn in batch_norm:
        for init in inits:
            for lr in lrs:
                model = small_bn_net(bn, init, seed, input_size=input_size)
                history = fit(model, train, val, epochs=epochs, lr=lr, batch_size=batch_size,
                              max_batches=max_batches, seed=seed, device=device,
                              desc=f"{'with' if bn else 'without'} batch norm, {init} init, lr {lr}",
                              options=TrainOptions(progress=progress))
                accuracy = history.val_acc[-1] if history.val_acc else float("nan")
                runs.append({"batch_norm": bn, "init": init, "lr": lr, "val_acc": accuracy,
                             "train_acc": history.train_acc[-1], "history": history, "model": model})
    return runs


def logits_with_companions(model: nn.Module, image, companions: Sequence, train_mode: bool) -> np.ndarray:
    """The logits of one ``image`` (``(H, W)``, ``(1, H, W)`` or ``(1, C, H, W)``) when it is
    put in a batch with each set of ``companions`` (``(M, H, W)`` or ``(M, C, H, W)``) in turn:
    an array ``(len(companions), num_classes)``.

    ``train_mode`` runs a copy of the model in ``train()`` mode (batch statistics, as
    when one forgets ``model.eval()``); otherwise in ``eval()`` mode (running averages).
    The model itself, its mode and its running averages are left untouched.
    """
    x = image if isinstance(image, torch.Tensor) else torch.as_tensor(np.asarray(image))
    x = as_images(x[None] if x.dim() == 2 else x, "image")
    if len(x) != 1:
        raise ValueError(f"image must be a single image, got a batch of {len(x)} (shape {tuple(x.shape)})")
    clone = copy.deepcopy(model).train(train_mode)
    device = model_device(clone)
    rows = []
    with torch.no_grad():
        for others in companions:
            batch = torch.cat([x, as_images(others, "companions")]).to(device)
            rows.append(clone(batch)[0].float().cpu().numpy())
    return np.array(rows)


def accuracy_in_batches(model: nn.Module, data, train_mode: bool, *, sort_by_label: bool = False,
                        batch_size: int = 100) -> float:
    """Accuracy on ``data = (X, y)`` fed in consecutive batches of ``batch_size``.

    ``sort_by_label`` sorts the examples by label first, so that each batch holds one or
    two classes only (a skewed batch). ``train_mode`` as in :func:`logits_with_companions`
    (a copy of the model is used; the model is left untouched).
    """
    X, y = as_tensors(data, "data")
    if train_mode and len(X) % batch_size == 1:
        raise ValueError(f"{len(X)} examples in batches of {batch_size} leave a last batch of one, "
                         f"which batch norm cannot normalize in train mode; change batch_size")
    if sort_by_label:
        order = torch.argsort(y, stable=True)
        X, y = X[order], y[order]
    clone = copy.deepcopy(model).train(train_mode)
    device = model_device(clone)
    correct = 0
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            logits = clone(X[start:start + batch_size].to(device))
            correct += int((logits.argmax(1).cpu() == y[start:start + batch_size]).sum())
    return correct / len(X)
