"""LeNet-5 in NumPy, assembled from the reference layers (lecture: "LeNet"; LeCun et
al. 1998), with SGD + momentum. Used by the NumPy-vs-torch benchmark and the notebooks.

Architecture (modern variant: ReLU and max pooling instead of tanh and subsampling)::

    x (N, 1, 28, 28)
    C1  conv 5x5, 6 filters, pad 2  -> (N, 6, 28, 28)  -> ReLU -> max pool 2 -> (N, 6, 14, 14)
    C3  conv 5x5, 16 filters        -> (N, 16, 10, 10) -> ReLU -> max pool 2 -> (N, 16, 5, 5)
    F5  linear 400 -> 120 -> ReLU
    F6  linear 120 -> 84  -> ReLU
    out linear 84 -> 10   (class scores; softmax cross-entropy loss)

Parameters: 156 + 2,416 + 48,120 + 10,164 + 850 = 61,706.

SGD with momentum, as ``torch.optim.SGD(momentum=mu)``::

    v <- mu * v + grad          theta <- theta - lr * v
"""
from __future__ import annotations

import numpy as np

from cnnlab.arith import conv_output_size, conv_param_count, pool_output_size
from cnnlab.reference._checks import as_float_array
from cnnlab.reference.conv import conv_backward, conv_forward
from cnnlab.reference.layers import (linear_backward, linear_forward, relu_backward,
                                     relu_forward, softmax_cross_entropy)
from cnnlab.reference.pool import maxpool_backward, maxpool_forward

__all__ = ["NumpyLeNet5", "train_step", "train_epoch", "lenet_accuracy"]


def _flat_features() -> int:
    """16 x 5 x 5 = 400 inputs of F5, by the lecture's size formulas (cnnlab.arith)."""
    c1 = conv_output_size(28, 5, padding=2, strict=True)        # 28
    s2 = pool_output_size(c1, 2, strict=True)                   # 14
    c3 = conv_output_size(s2, 5, strict=True)                   # 10
    s4 = pool_output_size(c3, 2, strict=True)                   # 5
    return 16 * s4 * s4


class NumpyLeNet5:
    """NumPy LeNet-5 for ``(N, 1, 28, 28)`` inputs and 10 classes.

    ``params`` maps names (``conv1_w``, ``conv1_b``, ..., ``fc3_b``) to arrays shaped
    like torch's (conv ``(K, C, F, F)``, linear ``(D_out, D_in)``); ``velocity`` holds
    the momentum buffers. Weights are He-initialised, ``N(0, 2 / fan_in)``; biases 0.
    """

    SHAPES = {"conv1": (6, 1, 5, 5), "conv2": (16, 6, 5, 5),
              "fc1": (120, _flat_features()), "fc2": (84, 120), "fc3": (10, 84)}

    def __init__(self, rng=None, dtype=np.float32):
        rng = np.random.default_rng(rng)
        self.params: dict[str, np.ndarray] = {}
        for name, shape in self.SHAPES.items():
            fan_in = int(np.prod(shape[1:]))
            self.params[f"{name}_w"] = rng.normal(0, np.sqrt(2 / fan_in), shape).astype(dtype)
            self.params[f"{name}_b"] = np.zeros(shape[0], dtype)
        self.velocity = {k: np.zeros_like(v) for k, v in self.params.items()}

    def num_params(self) -> int:
        """61,706: the conv layers by ``cnnlab.arith.conv_param_count``, plus the linear ones."""
        convs = sum(conv_param_count(w.shape[2], w.shape[1], w.shape[0])
                    for k, w in self.params.items() if k.startswith("conv") and k.endswith("_w"))
        linears = sum(self.params[f"fc{i}_w"].size + self.params[f"fc{i}_b"].size for i in (1, 2, 3))
        return convs + linears

    def forward(self, x):
        """Class scores ``(N, 10)`` for ``x (N, 1, 28, 28)``, and the caches the backward pass needs."""
        x = as_float_array("x", x, 4, "(N, 1, 28, 28)")
        if x.shape[1:] != (1, 28, 28):
            raise ValueError(f"NumpyLeNet5 takes (N, 1, 28, 28) images, got {x.shape}; "
                             f"cnnlab.data.to_nchw_float turns uint8 (N, 28, 28) into that")
        p, caches = self.params, []
        h, c = conv_forward(x, p["conv1_w"], p["conv1_b"], padding=2); caches.append(c)
        h, c = relu_forward(h); caches.append(c)
        h, c = maxpool_forward(h, 2); caches.append(c)
        h, c = conv_forward(h, p["conv2_w"], p["conv2_b"]); caches.append(c)
        h, c = relu_forward(h); caches.append(c)
        h, c = maxpool_forward(h, 2); caches.append(c)
        for i in (1, 2, 3):
            h, c = linear_forward(h, p[f"fc{i}_w"], p[f"fc{i}_b"]); caches.append(c)
            if i < 3:
                h, c = relu_forward(h); caches.append(c)
        return h, caches

    def backward(self, dscores, caches) -> dict[str, np.ndarray]:
        """Gradients of every parameter (shaped like ``params``), given ``dL/dscores (N, 10)``
        and the forward caches."""
        grads, caches = {}, list(caches)
        d = dscores
        for i in (3, 2, 1):
            d, grads[f"fc{i}_w"], grads[f"fc{i}_b"] = linear_backward(d, caches.pop())
            if i > 1:
                d = relu_backward(d, caches.pop())
        d = relu_backward(maxpool_backward(d, caches.pop()), caches.pop())
        d, grads["conv2_w"], grads["conv2_b"] = conv_backward(d, caches.pop())
        d = relu_backward(maxpool_backward(d, caches.pop()), caches.pop())
        _, grads["conv1_w"], grads["conv1_b"] = conv_backward(d, caches.pop(), input_grad=False)
        return grads

    def loss(self, x, y):
        """``(loss, grads, scores)`` for a batch ``x (N, 1, 28, 28)``, ``y (N,)``: softmax
        cross-entropy, gradients shaped like ``params``, scores ``(N, 10)``."""
        scores, caches = self.forward(x)
        loss, dscores = softmax_cross_entropy(scores, y)
        return loss, self.backward(dscores, caches), scores

    def predict(self, x, batch_size: int = 1000) -> np.ndarray:
        """Predicted labels ``(N,)`` for ``x (N, 1, 28, 28)``, computed ``batch_size`` images at a time."""
        return np.concatenate([self.forward(x[i:i + batch_size])[0].argmax(axis=1)
                               for i in range(0, len(x), batch_size)])


def train_step(model: NumpyLeNet5, x, y, lr: float = 0.05, momentum: float = 0.9):
    """One SGD-with-momentum step on a batch; returns ``(loss, number correct)``.

    Shapes: ``x float (B, 1, 28, 28)``, ``y int (B,)`` -> a float and an int."""
    loss, grads, scores = model.loss(x, y)
    for name, g in grads.items():
        v = model.velocity[name]
        v *= momentum
        v += g
        model.params[name] -= lr * v
    return float(loss), int((scores.argmax(axis=1) == y).sum())


def train_epoch(model: NumpyLeNet5, images, labels, batch_size: int = 64, lr: float = 0.05,
                momentum: float = 0.9, rng=None) -> dict[str, float]:
    """One pass over ``images float (N, 1, 28, 28)``, ``labels int (N,)`` in shuffled
    mini-batches. Returns ``{"loss": mean batch loss, "accuracy": training accuracy}``."""
    labels = np.asarray(labels)
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    order = np.random.default_rng(rng).permutation(len(images))
    losses, correct = [], 0
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        loss, right = train_step(model, images[batch], labels[batch], lr, momentum)
        losses.append(loss)
        correct += right
    return {"loss": float(np.mean(losses)), "accuracy": correct / len(order)}


def lenet_accuracy(model: NumpyLeNet5, images, labels, batch_size: int = 1000) -> float:
    """Accuracy of ``model`` (a :class:`NumpyLeNet5`) on ``images``: the fraction of correct labels.

    Shapes: ``images float (N, 1, 28, 28)``, ``labels int (N,)`` -> a float in [0, 1]."""
    return float(np.mean(model.predict(images, batch_size) == np.asarray(labels)))
