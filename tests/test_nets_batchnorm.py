"""The from-scratch BatchNorm2d against torch.nn.BatchNorm2d: outputs, gradients and running
statistics in train and eval mode; the mode follows module.training, never grad mode."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cnnlab import config
from cnnlab.nets import BatchNorm2d

SHAPES = [(2, 1, 1, 1), (4, 3, 5, 5), (3, 6, 2, 7), (8, 2, 3, 1), (5, 4, 4, 4)]


@pytest.fixture(scope="module")
def device():
    return config.get_device()


def _pair(channels, momentum, device, rng):
    ours = BatchNorm2d(channels, momentum=momentum).double().to(device)
    theirs = nn.BatchNorm2d(channels, momentum=momentum).double().to(device)
    with torch.no_grad():  # non-trivial gamma and beta, the same in both
        gamma, beta = rng.normal(size=channels), rng.normal(size=channels)
        for module in (ours, theirs):
            module.weight.copy_(torch.tensor(gamma))
            module.bias.copy_(torch.tensor(beta))
    return ours, theirs


def _assert_same_state(ours, theirs):
    for name in ("running_mean", "running_var"):
        assert torch.allclose(getattr(ours, name), getattr(theirs, name), rtol=1e-12, atol=1e-12), name
    assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked)


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("shape", SHAPES)
def test_train_mode_matches_torch(shape, momentum, device):
    rng = np.random.default_rng(hash((shape, momentum)) % 2**32)
    ours, theirs = _pair(shape[1], momentum, device, rng)
    for _ in range(3):  # several batches, so the running averages are exercised
        x = torch.tensor(rng.normal(loc=2.0, scale=3.0, size=shape), device=device, requires_grad=True)
        upstream = torch.tensor(rng.normal(size=shape), device=device)
        out_ours, out_theirs = ours(x), theirs(x)
        assert torch.allclose(out_ours, out_theirs, rtol=1e-10, atol=1e-10)
        grads_ours = torch.autograd.grad(out_ours, [x, ours.weight, ours.bias], upstream)
        grads_theirs = torch.autograd.grad(out_theirs, [x, theirs.weight, theirs.bias], upstream)
        for g_ours, g_theirs in zip(grads_ours, grads_theirs):
            assert torch.allclose(g_ours, g_theirs, rtol=1e-9, atol=1e-10)
        _assert_same_state(ours, theirs)


@pytest.mark.parametrize("shape", SHAPES)
def test_eval_mode_matches_torch_and_leaves_statistics_alone(shape, device):
    rng = np.random.default_rng(sum(shape))
    ours, theirs = _pair(shape[1], 0.3, device, rng)
    for _ in range(2):
        x = torch.tensor(rng.normal(loc=-1.0, scale=2.0, size=shape), device=device)
        ours(x), theirs(x)
    ours.eval(), theirs.eval()
    x = torch.tensor(rng.normal(size=shape), device=device, requires_grad=True)
    before = ours.running_mean.clone(), ours.running_var.clone()
    out_ours, out_theirs = ours(x), theirs(x)
    assert torch.allclose(out_ours, out_theirs, rtol=1e-12, atol=1e-12)
    upstream = torch.tensor(rng.normal(size=shape), device=device)
    (g_ours,) = torch.autograd.grad(out_ours, x, upstream)
    (g_theirs,) = torch.autograd.grad(out_theirs, x, upstream)
    assert torch.allclose(g_ours, g_theirs, rtol=1e-12, atol=1e-12)
    assert torch.equal(ours.running_mean, before[0]) and torch.equal(ours.running_var, before[1])
    _assert_same_state(ours, theirs)


def test_mode_follows_module_training_not_grad_mode(device):
    rng = np.random.default_rng(7)
    ours, theirs = _pair(3, 0.1, device, rng)
    x = torch.tensor(rng.normal(loc=5.0, size=(6, 3, 4, 4)), device=device)
    with torch.no_grad():  # train mode without gradients: still batch statistics, still updated
        out = ours(x)
        expected = theirs(x)
    assert torch.allclose(out, expected, rtol=1e-10, atol=1e-10)
    assert int(ours.num_batches_tracked) == 1
    _assert_same_state(ours, theirs)
    batch_normalized = (x - x.mean(dim=(0, 2, 3), keepdim=True)) / torch.sqrt(
        x.var(dim=(0, 2, 3), unbiased=False, keepdim=True) + ours.eps)
    ours.eval(), theirs.eval()
    y = x.clone().requires_grad_(True)  # eval mode with gradients on: running statistics
    out = ours(y)
    assert out.requires_grad
    assert torch.allclose(out, theirs(y), rtol=1e-12, atol=1e-12)
    gamma, beta = ours.weight.view(1, -1, 1, 1), ours.bias.view(1, -1, 1, 1)
    assert not torch.allclose(out, gamma * batch_normalized + beta, atol=1e-3)
    assert int(ours.num_batches_tracked) == 1


def test_state_dict_is_interchangeable_with_torch():
    rng = np.random.default_rng(3)
    torch_bn = nn.BatchNorm2d(4)
    for _ in range(3):
        torch_bn(torch.tensor(rng.normal(size=(5, 4, 3, 3)), dtype=torch.float32))
    ours = BatchNorm2d(4)
    ours.load_state_dict(torch_bn.state_dict())
    ours.eval(), torch_bn.eval()
    x = torch.tensor(rng.normal(size=(2, 4, 3, 3)), dtype=torch.float32)
    assert torch.allclose(ours(x), torch_bn(x), atol=1e-6)
    assert set(ours.state_dict()) == set(torch_bn.state_dict())


def test_bad_input_is_a_clear_error():
    bn = BatchNorm2d(3)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\); got \(2, 4, 5, 5\)"):
        bn(torch.zeros(2, 4, 5, 5))
    with pytest.raises(ValueError, match="more than one value per channel"):
        bn(torch.zeros(1, 3, 1, 1))
    bn.eval()
    assert bn(torch.zeros(1, 3, 1, 1)).shape == (1, 3, 1, 1)  # fine in eval mode
