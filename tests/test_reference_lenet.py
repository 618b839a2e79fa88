"""The NumPy LeNet-5: same scores, gradients and SGD-momentum steps as an equivalent torch
network in float64, and it learns real Fashion-MNIST."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits
from torch import nn

from cnnlab.data import to_nchw_float
from cnnlab.reference import NumpyLeNet5, lenet_accuracy, train_epoch, train_step


pytestmark = pytest.mark.usefixtures("one_torch_thread")


NAMES = ["conv1", "conv2", "fc1", "fc2", "fc3"]


def torch_twin(model: NumpyLeNet5) -> nn.Sequential:
    """The same architecture in torch (float64), holding copies of ``model``'s weights."""
    net = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    ).double()
    layers = [m for m in net if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        for name, layer in zip(NAMES, layers):
            layer.weight.copy_(torch.from_numpy(model.params[f"{name}_w"]))
            layer.bias.copy_(torch.from_numpy(model.params[f"{name}_b"]))
    return net


def test_parameter_count_is_61706():
    model = NumpyLeNet5(rng=0)
    assert model.num_params() == 61_706
    assert sum(p.size for p in model.params.values()) == 61_706
    assert sum(p.numel() for p in torch_twin(NumpyLeNet5(rng=0, dtype=np.float64)).parameters()) == 61_706


def test_scores_and_gradients_match_torch():
    rng = np.random.default_rng(0)
    model = NumpyLeNet5(rng=1, dtype=np.float64)
    x, y = rng.random((5, 1, 28, 28)), rng.integers(0, 10, 5)
    loss, grads, scores = model.loss(x, y)
    net = torch_twin(model)
    t_scores = net(torch.from_numpy(x))
    t_loss = nn.functional.cross_entropy(t_scores, torch.from_numpy(y))
    t_loss.backward()
    np.testing.assert_allclose(scores, t_scores.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    layers = [m for m in net if isinstance(m, (nn.Conv2d, nn.Linear))]
    for name, layer in zip(NAMES, layers):
        np.testing.assert_allclose(grads[f"{name}_w"], layer.weight.grad.numpy(), rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(grads[f"{name}_b"], layer.bias.grad.numpy(), rtol=1e-8, atol=1e-12)


def test_sgd_momentum_steps_match_torch_optim():
    rng = np.random.default_rng(2)
    model = NumpyLeNet5(rng=3, dtype=np.float64)
    net = torch_twin(model)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    for _ in range(3):
        x, y = rng.random((4, 1, 28, 28)), rng.integers(0, 10, 4)
        loss, _ = train_step(model, x, y, lr=0.05, momentum=0.9)
        optimizer.zero_grad()
        t_loss = nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y))
        t_loss.backward()
        optimizer.step()
        assert loss == pytest.approx(t_loss.item(), rel=1e-9)
    layers = [m for m in net if isinstance(m, (nn.Conv2d, nn.Linear))]
    for name, layer in zip(NAMES, layers):
        np.testing.assert_allclose(model.params[f"{name}_w"], layer.weight.detach().numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.realdata
def test_learns_real_fashion_mnist(fashion_train):
    images, labels = fashion_train
    x, y = to_nchw_float(images[:5000]), labels[:5000]
    x_val, y_val = to_nchw_float(images[-1000:]), labels[-1000:]           # held out
    model = NumpyLeNet5(rng=0)
    assert model.params["conv1_w"].dtype == np.float32
    # Batch-64 matrices are too small to gain from several BLAS threads, and on a shared
    # machine the threads wait for each other (about 10x slower): use one.
    with threadpool_limits(1, user_api="blas"):
        before = lenet_accuracy(model, x_val, y_val)
        first = train_epoch(model, x[:4000], y[:4000], rng=0)
        second = train_epoch(model, x[:4000], y[:4000], rng=1)
        after = lenet_accuracy(model, x_val, y_val)
    assert second["loss"] < first["loss"]
    assert before < 0.25                               # untrained: near chance (0.1)
    assert after > 0.65
    assert second["accuracy"] > 0.65


def test_bad_input_is_explained():
    model = NumpyLeNet5(rng=0)
    with pytest.raises(ValueError, match="to_nchw_float"):
        model.forward(np.zeros((2, 1, 32, 32), np.float32))
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        train_epoch(model, np.zeros((3, 1, 28, 28), np.float32), np.zeros(2, int))
