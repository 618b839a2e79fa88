"""cnnlab.experiments.inception: the branch-by-branch cost formulas against torch's own
parameter count and PyTorch's FLOP counter, the naive module against real conv layers, and
the whole-model multiply-add counter."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnnlab import nets
from cnnlab.experiments.inception import PAPER_TABLE1, inception_costs, parameters_by_layer_type
from cnnlab.nets import count_mult_adds
from cnnlab.nets.inception import GOOGLENET_TABLE

specs = st.tuples(*[st.integers(1, 12)] * 7)


def _torch_mult_adds(model: nn.Module, shape) -> int:
    """PyTorch's own count: FLOPs of conv and matrix products, 2 per multiply-add."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval()(torch.zeros(1, *shape))
    return counter.get_total_flops() // 2


@settings(max_examples=25, deadline=None)
@given(spec=specs, size=st.integers(1, 9))
def test_real_module_costs_match_torch(spec, size):
    module = nets.Inception(*spec)
    cost = inception_costs((size, size), *spec)
    assert cost.params == nets.count_parameters(module)
    assert cost.weights == sum(p.numel() for name, p in module.named_parameters() if name.endswith("weight"))
    shape = (spec[0], size, size)
    assert cost.mult_adds == _torch_mult_adds(module, shape) == count_mult_adds(module, shape)
    assert cost.out_channels == module.out_channels == spec[1] + spec[3] + spec[5] + spec[6]


@settings(max_examples=25, deadline=None)
@given(spec=specs, size=st.integers(1, 9))
def test_naive_module_costs_match_three_convs(spec, size):
    d, c1, _, c3, _, c5, _ = spec
    convs = nn.ModuleList([nn.Conv2d(d, c1, 1), nn.Conv2d(d, c3, 3, padding=1), nn.Conv2d(d, c5, 5, padding=2)])
    cost = inception_costs((size, size), *spec, reductions=False)
    assert list(cost.branches) == ["1x1", "3x3", "5x5"]
    assert cost.params == nets.count_parameters(convs)
    x = torch.zeros(1, d, size, size)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        outs = [conv(x) for conv in convs]
    assert cost.mult_adds == counter.get_total_flops() // 2
    assert cost.out_channels == sum(o.shape[1] for o in outs) + d       # the pooled input passes through


def test_inception_3a_numbers():
    _, d, *spec = GOOGLENET_TABLE[0]
    real, naive = inception_costs((28, 28), d, *spec), inception_costs((28, 28), d, *spec, reductions=False)
    assert (real.params, real.out_channels, naive.out_channels) == (163_696, 256, 416)
    assert naive.branches["5x5"].weights == 25 * 192 * 32
    assert real.branches["5x5 reduce"].weights + real.branches["5x5"].weights == 192 * 16 + 25 * 16 * 32


@pytest.mark.parametrize("model, shape", [
    (lambda: nets.SmallGoogLeNet(), (1, 28, 28)),
    (lambda: nets.ResNet(8, width=4, input_size=14), (1, 14, 14)),
    (lambda: nets.SmallAlexNet(), (1, 28, 28)),
    (lambda: nn.Sequential(nn.Conv2d(4, 6, 3, stride=2, groups=2), nn.Flatten(), nn.Linear(6 * 4 * 4, 5)), (4, 9, 9)),
])
def test_count_mult_adds_matches_flop_counter(model, shape):
    torch.manual_seed(0)
    net = model().train()
    ours = count_mult_adds(net, shape)
    assert net.training                                   # the mode it found is restored
    assert ours == _torch_mult_adds(net, shape)


def test_count_mult_adds_on_meta_device_and_errors():
    with torch.device("meta"):
        googlenet = nets.googlenet()
    assert abs(count_mult_adds(googlenet, (3, 224, 224)) / 1.5e9 - 1) < 0.06   # the paper's 1.5 billion
    with pytest.raises(ValueError, match="input_shape"):
        count_mult_adds(googlenet, (224, 224))
    with pytest.raises(ValueError, match="square"):
        count_mult_adds(nn.Conv2d(1, 1, (1, 3)), (1, 5, 5))


def test_parameters_by_layer_type():
    with torch.device("meta"):
        alexnet, googlenet = nets.AlexNet(), nets.googlenet()
    split = parameters_by_layer_type(alexnet)
    assert split["conv"] + split["fully connected"] == nets.count_parameters(alexnet) and split["other"] == 0
    assert split["fully connected"] == sum(nets.count_parameters(getattr(alexnet, f"fc{i}")) for i in (6, 7, 8))
    assert parameters_by_layer_type(googlenet)["fully connected"] == 1024 * 1000 + 1000
    bn = parameters_by_layer_type(nets.SmallGoogLeNet())
    assert bn["other"] > 0 and sum(bn.values()) == nets.count_parameters(nets.SmallGoogLeNet())


def test_paper_table_covers_every_module():
    assert list(PAPER_TABLE1) == [row[0] for row in GOOGLENET_TABLE]
