"""cnnlab.experiments.batchnorm: the net of the experiment, the sweep, and the train/eval
mode demonstrations (lecture notebook 10). Synthetic 8x8 images keep these tests fast."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cnnlab import train
from cnnlab.experiments import batchnorm as exp


def _toy(n=200, seed=0):
    """8x8 images: class k (of 10) lights up a 2x2 block at a class-specific place, plus noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    X = rng.uniform(0, 0.3, size=(n, 8, 8)).astype(np.float32)
    for i, k in enumerate(y):
        r, c = divmod(int(k), 4)
        X[i, 2 * r:2 * r + 2, 2 * c:2 * c + 2] += 0.7
    return X, y.astype(np.int64)


def _norm_layers(model):
    return [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]


def test_small_bn_net_layers_and_initialisations():
    with_bn, without = exp.small_bn_net(True, input_size=8), exp.small_bn_net(False, input_size=8)
    assert len(_norm_layers(with_bn)) == 3 and len(_norm_layers(without)) == 0
    assert with_bn(torch.zeros(4, 1, 8, 8)).shape == (4, 10)
    assert exp.small_bn_net(False)(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    default, small = exp.small_bn_net(False, "default", seed=3), exp.small_bn_net(False, "small", seed=3)
    for a, b in zip(default.parameters(), small.parameters()):
        if a.dim() > 1:                                            # weights scaled, biases kept
            torch.testing.assert_close(b, 0.3 * a)
        else:
            torch.testing.assert_close(b, a)
    he = exp.small_bn_net(False, "he", seed=3)
    conv2 = he.conv2_1.weight
    fan_in = conv2.shape[1] * 9
    assert conv2.std().item() == pytest.approx(np.sqrt(2 / fan_in), rel=0.15)
    with pytest.raises(ValueError, match="init must be one of"):
        exp.small_bn_net(True, "xavier")


def test_batch_norm_cancels_the_scale_of_the_weights_before_it():
    net = exp.small_bn_net(True, input_size=8).double().train()
    scaled = exp.small_bn_net(True, input_size=8).double().train()
    for module in _norm_layers(net) + _norm_layers(scaled):
        module.eps = 1e-12                                         # the only thing that sees the scale
    with torch.no_grad():
        for name in ("conv1_1", "conv2_1", "fc1"):                 # every layer followed by batch norm
            getattr(scaled, name).weight.mul_(7.0)
    x = torch.from_numpy(_toy(32)[0]).unsqueeze(1).double()
    torch.testing.assert_close(scaled(x), net(x), rtol=1e-8, atol=1e-8)


def test_lr_init_sweep_trains_every_setting():
    X, y = _toy(256)
    runs = exp.lr_init_sweep((X, y), _toy(100, seed=1), [0.02, 0.2], ["he"], epochs=2,
                             batch_size=32, max_batches=6, progress=False, device="cpu")
    assert [(r["batch_norm"], r["init"], r["lr"]) for r in runs] == [
        (bn, "he", lr) for bn in (False, True) for lr in (0.02, 0.2)]
    for run in runs:
        assert 0 <= run["val_acc"] <= 1 and len(run["history"]) == 2
        assert run["val_acc"] == run["history"].val_acc[-1]
        assert run["history"].samples[-1] == 6 * 32                # max_batches caps each epoch
        setting = "with" if run["batch_norm"] else "without"
        assert run["history"].desc == f"{setting} batch norm, he init, lr {run['lr']}"
    bn_best = max(r["val_acc"] for r in runs if r["batch_norm"])
    assert bn_best > 0.5                                           # the toy task is easy with batch norm


@pytest.fixture(scope="module")
def trained_bn_net():
    X, y = _toy(300)
    model = exp.small_bn_net(True, input_size=8)
    train.fit(model, (X, y), epochs=3, lr=0.1, batch_size=30, device="cpu", options=train.TrainOptions(progress=False))
    return model.eval()


def test_logits_with_companions_depend_on_the_batch_only_in_train_mode(trained_bn_net):
    model = trained_bn_net
    before = {k: v.clone() for k, v in model.state_dict().items()}
    X, y = _toy(100, seed=2)
    image = X[:1]
    companions = [X[1:20], X[20:40], X[y == y[0]][1:15]]
    in_eval = exp.logits_with_companions(model, image, companions, train_mode=False)
    in_train = exp.logits_with_companions(model, torch.from_numpy(image[0]), companions, train_mode=True)
    assert in_eval.shape == in_train.shape == (3, 10)
    np.testing.assert_allclose(in_eval, in_eval[0][None].repeat(3, 0), atol=1e-5)
    assert np.abs(in_train - in_train[0]).max() > 1e-2
    # the model is untouched: still in eval mode, same running averages
    assert not model.training
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k])
    with pytest.raises(ValueError, match="single image"):
        exp.logits_with_companions(model, X[:2], companions, train_mode=False)


def test_accuracy_in_batches(trained_bn_net):
    model = trained_bn_net
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data = _toy(200, seed=3)
    reference = train.evaluate(model, data)
    for sort in (False, True):
        assert exp.accuracy_in_batches(model, data, train_mode=False, sort_by_label=sort,
                                       batch_size=50) == pytest.approx(reference)
    skewed = exp.accuracy_in_batches(model, data, train_mode=True, sort_by_label=True, batch_size=20)
    assert 0 <= skewed <= 1
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k])
    with pytest.raises(ValueError, match="last batch of one"):
        exp.accuracy_in_batches(model, _toy(101), train_mode=True, batch_size=50)
