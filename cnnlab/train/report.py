"""Looking at a trained classifier: the confusion matrix (counted and drawn) and the
images it gets wrong."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from cnnlab.plotting import image_grid
from cnnlab.train.loop import predict

__all__ = ["confusion_matrix", "plot_confusion_matrix", "show_misclassified"]


def _numpy(values) -> np.ndarray:
    return np.asarray(values.cpu() if isinstance(values, torch.Tensor) else values)


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
    y = _numpy(y).astype(np.int64)
    if isinstance(model_or_preds, nn.Module):
        if X is None:
            raise ValueError("confusion_matrix with a model needs data = (X, y)")
        preds = predict(model_or_preds, X)
    else:
        preds = _numpy(model_or_preds).astype(np.int64)
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
    y = _numpy(y)
    wrong = np.flatnonzero(preds != y)
    shown = wrong[:n]
    images = _numpy(X)[shown]
    if images.ndim == 4:
        images = images[:, 0] if images.shape[1] == 1 else images.transpose(0, 2, 3, 1)
    name = (lambda k: class_names[k]) if class_names else str
    captions = [f"{name(int(y[i]))} ->\n{name(int(preds[i]))}" for i in shown]
    return image_grid(images, ncols=ncols, title=f"{len(wrong)} of {len(y)} misclassified (true -> predicted)",
                      size=1.9, captions=captions, fontsize=10)
