"""cnnlab.nets: shapes and parameter counts of every model, against published figures,
cnnlab.arith and the models' own docstrings; the building blocks; bad input."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torch import nn

from cnnlab import arith, config
from cnnlab.nets import (VGG, AlexNet, BasicBlock, Bottleneck, GoogLeNet, Inception, LeNet5, PlainNet, ResNet,
                         SmallAlexNet, SmallGoogLeNet, count_parameters, googlenet, googlenet_vs_alexnet,
                         resnet152, summary, vgg16)
from cnnlab.nets import lenet as lenet_module
from cnnlab.nets.alexnet import LocalResponseNorm
from cnnlab.nets.inception import GOOGLENET_TABLE
from cnnlab.nets.lenet import C3_TABLE, EuclideanRBF, PartialConv2d, ScaledTanh, Subsampling
from cnnlab.nets.resnet import IMAGENET_DEPTHS

SMALL_MODELS = {
    "lenet": (LeNet5, (1, 28, 28)),
    "lenet-1998": (lambda: LeNet5("1998"), (1, 28, 28)),
    "alexnet-28": (SmallAlexNet, (1, 28, 28)),
    "alexnet-32-rgb": (lambda: SmallAlexNet(in_channels=3, input_size=32, lrn=False), (3, 32, 32)),
    "vgg": (VGG, (1, 28, 28)),
    "vgg-bn-32-rgb": (lambda: VGG(in_channels=3, input_size=32, batch_norm=True, hidden=(64, 32)), (3, 32, 32)),
    "googlenet": (SmallGoogLeNet, (1, 28, 28)),
    "googlenet-no-bn-32": (lambda: SmallGoogLeNet(input_size=32, batch_norm=False), (1, 32, 32)),
    "resnet8": (lambda: ResNet(8), (1, 28, 28)),
    "resnet20-32-rgb": (lambda: ResNet(20, in_channels=3, input_size=32, dropout=0.2), (3, 32, 32)),
    "resnet11-bottleneck": (lambda: ResNet(11, block="bottleneck", width=8), (1, 28, 28)),
    "resnet8-no-bn": (lambda: ResNet(8, batch_norm=False), (1, 28, 28)),
    "plain8": (lambda: PlainNet(8), (1, 28, 28)),
}

# name -> (builder, input shape, published parameter count)
FULL_SIZE = {
    "vgg16": (vgg16, (3, 224, 224), 138_357_544),          # Simonyan & Zisserman; torchvision
    "resnet152": (resnet152, (3, 224, 224), 60_192_808),   # He et al.; torchvision
}
RESNET_PUBLISHED = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160, 152: 60_192_808}


@pytest.fixture(scope="module")
def device():
    return config.get_device()


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _meta(builder):
    with torch.device("meta"):
        return builder()


# --------------------------------------------------------------------------- small models

@pytest.mark.parametrize("name", SMALL_MODELS)
def test_small_model_forward_backward_shapes(name, device):
    build, shape = SMALL_MODELS[name]
    torch.manual_seed(0)
    model = build().to(device)
    assert model.input_shape == shape
    x = torch.randn(3, *shape, device=device)
    out = model(x)
    assert out.shape == (3, 10)
    out.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"parameters without a finite gradient: {missing}"


@pytest.mark.parametrize("name", SMALL_MODELS)
def test_summary_agrees_with_torch_and_arith(name):
    build, shape = SMALL_MODELS[name]
    model = build()
    rows = summary(model, shape, print_table=False)
    assert rows[-1].output_shape == (10,)
    assert sum(r.params for r in rows) == count_parameters(model)
    leaves = summary(model, shape, expand=True, print_table=False)
    assert sum(r.params for r in leaves) == count_parameters(model)
    assert all(next(m.children(), None) is None for n, m in model.named_modules() if n in {r.name for r in leaves})
    checked = 0
    for row in leaves:
        if row.arith_hw is not None:
            assert row.arith_hw == row.output_shape[1:], row
            checked += 1
    assert checked >= 2  # every model has conv and pool layers that arith predicts


def test_lenet5_parameters_and_variants():
    assert count_parameters(LeNet5()) == 61_706                   # the modern reading, unchanged
    assert count_parameters(LeNet5("1998"), trainable_only=True) == count_parameters(LeNet5("1998")) == 60_000
    assert isinstance(LeNet5().act1, nn.ReLU) and isinstance(LeNet5().pool1, nn.MaxPool2d)
    assert isinstance(LeNet5("1998").act1, ScaledTanh) and isinstance(LeNet5("1998").S2, Subsampling)
    assert LeNet5().conv1.padding == (2, 2) and LeNet5("1998").C1.padding == (2, 2)
    with pytest.raises(ValueError, match="relu-max"):
        LeNet5("modern")


# LeCun et al. 1998, section II-B: trainable parameters and output shape of each layer
PAPER_LENET5 = {"C1": (156, (6, 28, 28)), "S2": (12, (6, 14, 14)), "C3": (1_516, (16, 10, 10)),
                "S4": (32, (16, 5, 5)), "C5": (48_120, (120, 1, 1)), "F6": (10_164, (84,)), "output": (0, (10,))}


def test_lenet5_1998_layers_match_the_paper():
    model = LeNet5("1998")
    rows = {row.name: row for row in summary(model, (1, 28, 28), print_table=False)}
    assert {name: (rows[name].params, rows[name].output_shape) for name in PAPER_LENET5} == PAPER_LENET5
    assert sum(params for params, _ in PAPER_LENET5.values()) == 60_000       # the paper's total
    assert [rows[f"act{i}"].kind for i in range(1, 7)] == ["ScaledTanh"] * 6   # a squash after C1..F6
    assert model.C5.kernel_size == (5, 5) and isinstance(model.C5, nn.Conv2d)  # a convolution, not a Linear
    assert model.C3.table == C3_TABLE
    # the RBF centres: 84 fixed +-1 values per class, a buffer (not trained), the same in every model
    centres = model.output.centres
    assert centres.shape == (10, 84) and set(centres.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(centres, LeNet5("1998").output.centres) and len(set(map(tuple, centres.tolist()))) == 10
    assert not any(name.startswith("output") for name, _ in model.named_parameters())


def test_c3_table_is_table_i():
    """Table I read column by column: six contiguous triples, six contiguous quadruples,
    three non-contiguous quadruples, then all six maps; every S2 map feeds 10 C3 maps."""
    contiguous = [tuple((start + i) % 6 for i in range(n)) for n in (3, 4) for start in range(6)]
    assert C3_TABLE[:12] == tuple(contiguous)
    assert C3_TABLE[12:15] == ((0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5)) and C3_TABLE[15] == tuple(range(6))
    assert np.bincount([c for inputs in C3_TABLE for c in inputs]).tolist() == [10] * 6
    assert sum(arith.conv_param_count(5, len(inputs), 1) for inputs in C3_TABLE) == 1_516


def test_scaled_tanh_values():
    f = ScaledTanh()
    x = torch.tensor([-1.0, 0.0, 1.0, 30.0, -30.0], dtype=torch.float64)
    y = f(x)
    assert y[1] == 0 and torch.allclose(y[[0, 2]], torch.tensor([-1.0, 1.0], dtype=torch.float64), atol=1e-4)
    assert torch.allclose(y[[3, 4]], torch.tensor([1.7159, -1.7159], dtype=torch.float64))   # the asymptotes
    a = torch.tensor(np.random.default_rng(0).normal(scale=2, size=50))
    assert torch.allclose(f(a), torch.tensor(1.7159 * np.tanh(2 * a.numpy() / 3)))
    zero = torch.zeros((), dtype=torch.float64, requires_grad=True)
    (slope,) = torch.autograd.grad(f(zero), zero)
    assert slope.item() == pytest.approx(1.7159 * 2 / 3)                                   # f'(0) = A S


def test_subsampling_by_hand():
    """Each output adds its 2x2 window, times the map's coefficient, plus the map's bias."""
    layer = Subsampling(2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([2.0, -0.5]))
        layer.bias.copy_(torch.tensor([0.5, 1.0]))
    x = torch.arange(32, dtype=torch.float32).reshape(1, 2, 4, 4)
    # map 0 holds 0..15: window sums 0+1+4+5 = 10, 2+3+6+7 = 18, 8+9+12+13 = 42, 10+11+14+15 = 50
    # map 1 holds 16..31: each window sum is 64 more
    expected = torch.tensor([[[[2 * 10 + 0.5, 2 * 18 + 0.5], [2 * 42 + 0.5, 2 * 50 + 0.5]],
                              [[-0.5 * 74 + 1, -0.5 * 82 + 1], [-0.5 * 106 + 1, -0.5 * 114 + 1]]]])
    assert torch.equal(layer(x), expected)
    assert count_parameters(layer) == 4
    fresh = Subsampling(3)                                      # starts as a plain 2x2 average
    x = torch.randn(2, 3, 6, 8)
    assert torch.allclose(fresh(x), nn.functional.avg_pool2d(x, 2))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        fresh(torch.randn(2, 4, 6, 6))


def test_partial_conv_is_a_masked_convolution():
    torch.manual_seed(0)
    table = ((0, 2), (1,), (0, 1, 2))
    layer = PartialConv2d(3, table, 3).double()
    assert count_parameters(layer) == (2 + 1 + 3) * 9 + 3
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64, requires_grad=True)
    mask = torch.zeros(3, 3, 1, 1, dtype=torch.float64)
    for k, inputs in enumerate(table):
        mask[k, list(inputs)] = 1
    dense = layer.dense_weight()
    assert torch.equal(dense * mask, dense)                     # zero where a map does not read
    assert torch.allclose(layer(x), nn.functional.conv2d(x, dense, layer.bias))
    (grad,) = torch.autograd.grad(layer(x)[:, 1].sum(), x)      # output map 1 reads input map 1 only
    assert grad[:, [0, 2]].abs().max() == 0 and grad[:, 1].abs().max() > 0
    with pytest.raises(ValueError, match=r"table\[1\]"):
        PartialConv2d(3, ((0,), (1, 3)), 3)


def test_euclidean_rbf_scores_are_minus_squared_distances():
    rbf = EuclideanRBF(4, 3, seed=0)
    x = torch.randn(5, 4)
    expected = torch.stack([-((x - centre) ** 2).sum(dim=1) for centre in rbf.centres], dim=1)
    assert torch.allclose(rbf(x), expected)
    assert torch.equal(rbf(rbf.centres).argmax(dim=1), torch.arange(3))   # a centre scores its own class
    assert count_parameters(rbf) == 0 and rbf.centres.numel() == 12


def test_summary_prints_a_table(capsys):
    summary(LeNet5(), (1, 28, 28))
    out = capsys.readouterr().out
    assert "conv1 (Conv2d)" in out and "(6, 28, 28)" in out and "(28-5+2*2)/1+1 = 28" in out
    assert "Total parameters: 61,706" in out
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        summary(LeNet5(), (28, 28))


# --------------------------------------------------------------------------- full size

@pytest.mark.parametrize("name", FULL_SIZE)
def test_full_size_parameter_counts_match_published(name):
    build, shape, published = FULL_SIZE[name]
    model = _meta(build)
    assert count_parameters(model) == published
    rows = summary(model, shape, print_table=False)
    assert rows[-1].output_shape == (1000,)
    assert all(r.arith_hw == r.output_shape[1:] for r in rows if r.arith_hw is not None)


@pytest.mark.parametrize("depth", sorted(IMAGENET_DEPTHS))
def test_imagenet_resnets_match_published_counts(depth):
    model = _meta(lambda: ResNet(depth, imagenet=True, in_channels=3, input_size=224, num_classes=1000))
    assert count_parameters(model) == RESNET_PUBLISHED[depth]


def test_alexnet_count_and_two_gpu_grouping():
    two = count_parameters(_meta(AlexNet))
    one = count_parameters(_meta(lambda: AlexNet(groups=1)))
    assert abs(two - 61e6) / 61e6 < 0.01                      # "about 61 million"
    # grouping halves the weights of conv2, conv4 and conv5 (5x5x96x256, 3x3x384x384, 3x3x384x256)
    halved = (arith.conv_param_count(5, 96, 256, bias=False) + arith.conv_param_count(3, 384, 384, bias=False)
              + arith.conv_param_count(3, 384, 256, bias=False)) // 2
    assert one - two == halved
    rows = summary(_meta(AlexNet), (3, 227, 227), print_table=False)
    assert rows[0].output_shape == (96, 55, 55)               # the paper's 55x55x96
    with pytest.raises(ValueError, match="54.25"):             # why the input is 227, not 224
        arith.conv_output_size(224, 11, 4, strict=True)
    with pytest.raises(ValueError, match="groups"):
        AlexNet(groups=4)


def test_googlenet_counts_and_the_5_million_claim():
    model = _meta(googlenet)
    total = count_parameters(model)
    assert 6.0e6 < total < 7.0e6                               # "about 6-7 million" without aux
    weights = sum(p.numel() for n, p in model.named_parameters() if n.endswith("weight"))
    paper_table_k = [2.7, 112, 159, 380, 364, 437, 463, 580, 840, 1072, 1388, 1000]   # Table 1, "params"
    assert abs(weights / 1024 - sum(paper_table_k)) / sum(paper_table_k) < 0.01
    story = googlenet_vs_alexnet()
    assert story["googlenet"] == total
    assert story["googlenet_without_fc"] == total - (1024 * 1000 + 1000)
    assert story["googlenet_with_aux"] > 2 * 5e6
    assert story["alexnet"] == count_parameters(_meta(AlexNet))
    assert 8 < story["ratio"] < 10                             # not the slide's 12
    rows = summary(model, (3, 224, 224), print_table=False)
    by_name = {r.name: r for r in rows}
    for name, _, c1, _, c3, _, c5, proj in GOOGLENET_TABLE:    # Table 1's output channels
        assert by_name[name].output_shape[0] == c1 + c3 + c5 + proj
    assert by_name["inception5b"].output_shape == (1024, 7, 7)


def test_torchvision_agrees_where_installed():
    """Runs its comparison only where torchvision is installed (a visible skip elsewhere);
    the published figures above are asserted everywhere."""
    torchvision = pytest.importorskip("torchvision", reason="torchvision is not installed: nothing to compare with")

    with torch.device("meta"):
        assert count_parameters(torchvision.models.vgg16()) == count_parameters(vgg16())
        for depth in (18, 50, 152):
            theirs = getattr(torchvision.models, f"resnet{depth}")()
            ours = ResNet(depth, imagenet=True, in_channels=3, input_size=224, num_classes=1000)
            assert count_parameters(theirs) == count_parameters(ours)


# --------------------------------------------------------------------------- docstrings

ROW = re.compile(r"^\s+(\S+) \((\w+)\)\s+(\([\d, ]*\))\s+([\d,]+)")
DOCUMENTED = [
    (LeNet5, LeNet5, (1, 28, 28)), (lenet_module, lambda: LeNet5("1998"), (1, 28, 28)), (SmallAlexNet, SmallAlexNet, (1, 28, 28)), (AlexNet, AlexNet, (3, 227, 227)),
    (VGG, VGG, (1, 28, 28)), (vgg16, vgg16, (3, 224, 224)), (SmallGoogLeNet, SmallGoogLeNet, (1, 28, 28)),
    (GoogLeNet, googlenet, (3, 224, 224)), (ResNet, lambda: ResNet(20), (1, 28, 28)),
    (resnet152, resnet152, (3, 224, 224)),
]


@pytest.mark.parametrize("documented,build,shape", DOCUMENTED, ids=[d[0].__name__ for d in DOCUMENTED])
def test_docstring_tables_match_summary(documented, build, shape):
    doc = documented.__doc__
    rows = {r.name: r for r in summary(_meta(build), shape, print_table=False)}
    table = [ROW.match(line) for line in doc.splitlines()]
    table = [m for m in table if m]
    assert len(table) >= 5, "the docstring must list the layers' output shapes"
    for name, kind, out_shape, params in (m.groups() for m in table):
        assert name in rows, f"docstring lists {name}, which the model does not have"
        row = rows[name]
        assert (kind, out_shape, int(params.replace(",", ""))) == (row.kind, str(row.output_shape), row.params)
    total = re.search(r"Total parameters: ([\d,]+)", doc).group(1)
    assert int(total.replace(",", "")) == count_parameters(_meta(build))


# --------------------------------------------------------------------------- blocks

def test_inception_concatenates_four_branches():
    torch.manual_seed(0)
    block = Inception(8, 4, 3, 5, 2, 6, 7)
    x = torch.randn(2, 8, 9, 9)
    out = block(x)
    assert block.out_channels == 22 and out.shape == (2, 22, 9, 9)
    parts = [block.branch1(x), block.branch3(x), block.branch5(x), block.branch_pool(x)]
    assert [p.shape[1] for p in parts] == [4, 5, 6, 7]
    assert torch.equal(out, torch.cat(parts, dim=1))
    with pytest.raises(ValueError, match=r"\(N, 8, H, W\)"):
        block(torch.randn(2, 3, 9, 9))


@pytest.mark.parametrize("block_cls", [BasicBlock, Bottleneck])
def test_skip_connection_carries_the_input(block_cls):
    """With the residual branch zeroed, a block with a skip passes relu(x) on; without, zeros."""
    x = torch.randn(2, 16, 6, 6)
    width = 16 // block_cls.expansion
    for skip in (True, False):
        block = block_cls(16, width, skip=skip).eval()
        with torch.no_grad():
            for module in block.body:
                if isinstance(module, nn.Conv2d):
                    module.weight.zero_()
        expected = torch.relu(x) if skip else torch.zeros_like(x)
        assert torch.allclose(block(x), expected)


def test_strided_blocks_and_plain_net():
    block = BasicBlock(16, 32, stride=2)
    assert block(torch.randn(2, 16, 28, 28)).shape == (2, 32, 14, 14)
    assert Bottleneck(64, 32, stride=2)(torch.randn(2, 64, 14, 14)).shape == (2, 128, 7, 7)
    res, plain = ResNet(20), PlainNet(20)
    shortcut = sum(arith.conv_param_count(1, c, 2 * c, bias=False) + 2 * (2 * c) for c in (16, 32))
    assert count_parameters(res) - count_parameters(plain) == shortcut   # only the 1x1 projections differ
    assert not any(m.skip for m in plain.modules() if isinstance(m, BasicBlock))
    with pytest.raises(ValueError, match="6n\\+2"):
        ResNet(21)
    with pytest.raises(ValueError, match="9n\\+2"):
        ResNet(20 + 1, block="bottleneck")
    with pytest.raises(ValueError, match="no skip"):
        PlainNet(20, skip=True)
    with pytest.raises(ValueError, match="152"):
        ResNet(20, imagenet=True)


@pytest.mark.parametrize("n,channels", [(5, 8), (5, 3), (3, 7), (2, 6), (1, 4)])
def test_local_response_norm_matches_torch(n, channels):
    rng = np.random.default_rng(n * 10 + channels)
    x = torch.tensor(rng.normal(scale=3.0, size=(2, channels, 4, 5)), requires_grad=True)
    ours = LocalResponseNorm(n, alpha=0.01, beta=0.75, k=2.0)(x)
    theirs = nn.LocalResponseNorm(n, alpha=0.01 * n, beta=0.75, k=2.0)(x)
    assert torch.allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    g = torch.tensor(rng.normal(size=ours.shape))
    (grad_ours,) = torch.autograd.grad(ours, x, g, retain_graph=True)
    (grad_theirs,) = torch.autograd.grad(theirs, x, g)
    assert torch.allclose(grad_ours, grad_theirs, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("bad,hint", [((2, 1, 32, 32), "input_size=32"), ((2, 3, 28, 28), "input channel"),
                                      ((2, 28, 28), "unsqueeze")])
def test_wrong_image_shape_names_the_expected_shape(bad, hint):
    with pytest.raises(ValueError) as info:
        LeNet5()(torch.zeros(bad))
    message = str(info.value)
    assert "(N, 1, 28, 28)" in message and str(bad) in message and hint in message


def test_full_size_models_check_their_input():
    with pytest.raises(ValueError, match=r"\(N, 3, 227, 227\)"):
        _meta(AlexNet)(torch.zeros(1, 3, 224, 224, device="meta"))
    with pytest.raises(ValueError, match=r"\(N, 3, 224, 224\)"):
        _meta(resnet152)(torch.zeros(1, 3, 32, 32, device="meta"))
