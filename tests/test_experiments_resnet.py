"""cnnlab.experiments.resnet: the conv-layer gradient norms against autograd, the plain/residual experiments on tiny
synthetic data, the chain-gain products, and the complexity rows against the full-size models."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from cnnlab import arith, history, nets  # noqa: E402
from cnnlab.experiments import resnet as resx  # noqa: E402


@pytest.mark.parametrize("depth", [8, 14, 20])
def test_main_path_convs_skip_the_projections(depth):
    plain, residual = nets.PlainNet(depth, width=4), nets.ResNet(depth, width=4)
    all_convs = lambda m: sum(isinstance(x, nn.Conv2d) for x in m.modules())   # noqa: E731
    assert len(resx.main_path_convs(plain)) == len(resx.main_path_convs(residual)) == depth - 1
    assert all_convs(residual) == depth - 1 + 2          # two 1x1 projection shortcuts (stages 2 and 3)
    names = [name for name, _ in resx.main_path_convs(residual)]
    assert names[0] == "conv1" and not any("shortcut" in name for name in names)


def test_conv_gradient_norms_match_autograd():
    torch.manual_seed(0)
    model = nets.ResNet(8, width=4, input_size=8)
    X, y = torch.rand(16, 1, 8, 8), torch.randint(0, 10, (16,))
    model.eval()
    norms = resx.conv_gradient_norms(model, (X, y))
    assert not model.training and all(p.grad is None for p in model.parameters())
    model.train()
    convs = [conv.weight for _, conv in resx.main_path_convs(model)]
    grads = torch.autograd.grad(F.cross_entropy(model(X), y), convs)
    np.testing.assert_allclose(norms, [g.norm().item() for g in grads], rtol=1e-5)
    assert norms.shape == (7,)


def test_gradient_profiles_plain_vanishes_without_batch_norm():
    rng = np.random.default_rng(0)
    X, y = rng.random((64, 1, 8, 8), dtype=np.float32), rng.integers(0, 10, 64)
    runs = resx.gradient_profiles((X, y), (8, 20), width=4, batch_norm=False, seed=0)
    assert [r.label for r in runs] == ["plain-8", "residual-8", "plain-20", "residual-20"]
    plain20, residual20 = runs[2], runs[3]
    assert plain20.history is None and len(plain20.grad_norms) == 19
    assert plain20.grad_norms[0] < 1e-3 * residual20.grad_norms[0]
    # the same layers plus the two 1x1 projection shortcuts (with biases, as there is no batch norm)
    assert runs[1].params - runs[0].params == arith.conv_param_count(1, 4, 8) + arith.conv_param_count(1, 8, 16)


def test_degradation_experiment_on_tiny_data():
    rng = np.random.default_rng(1)
    X, y = rng.integers(0, 256, (64, 8, 8), dtype=np.uint8), rng.integers(0, 3, 64)
    runs = resx.degradation_experiment((X, y), (8,), epochs=2, width=4, batch_size=16, max_batches=3,
                                       progress=False, device="cpu")
    assert [r.label for r in runs] == ["plain-8", "residual-8"]
    assert [r.history.desc for r in runs] == ["PlainNet-8 (plain)", "ResNet-8 (residual)"]
    for run in runs:
        assert len(run.history) == 2 and len(run.grad_norms) == 7 and run.history.samples == [48, 48]
        assert run.train_error == pytest.approx(1 - run.history.train_acc[-1])
        assert run.mean_loss == pytest.approx(np.mean(run.history.train_loss))
        assert 0 <= run.train_error <= 1 and np.isfinite(run.final_loss)
    fig = resx.plot_training(runs)
    assert len(fig.axes[0].lines) == 2 and fig.axes[1].get_xlabel().startswith("depth")
    ax = resx.plot_gradient_norms(runs)
    assert len(ax.lines) == 2 and ax.get_yscale() == "log"


def test_chain_gain():
    w = np.array([0.5, -0.2, 0.1])
    np.testing.assert_allclose(resx.chain_gain(w, skip=False), [0.1, 0.1 * -0.2, 0.1 * -0.2 * 0.5])
    np.testing.assert_allclose(resx.chain_gain(w, skip=True), [1.1, 1.1 * 0.8, 1.1 * 0.8 * 1.5])
    with pytest.raises(ValueError, match="non-empty"):
        resx.chain_gain([], skip=True)


def test_complexity_rows_against_full_size_models():
    rows = resx.complexity_rows()
    assert [r.entry.name for r in rows] == [e.name for e in history.IMAGENET_NETWORKS]
    by_name = {r.entry.name: r for r in rows}
    with torch.device("meta"):
        assert by_name["ResNet-152"].params == nets.count_parameters(nets.resnet152()) == 60_192_808
        assert by_name["AlexNet"].params == nets.count_parameters(nets.AlexNet())
    assert by_name["VGG-19"].params == 143_667_240                       # configuration E of the VGG paper
    for name, ops in resx.PUBLISHED_MULT_ADDS.items():
        assert abs(by_name[name].mult_adds / ops - 1) < 0.06
    assert all(abs(r.params_relative_difference) < 0.05 for r in rows)
    ax = resx.plot_complexity(rows)
    assert len(ax.texts) == len(rows) and ax.get_xscale() == "log"
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    labels = [text.get_window_extent(renderer) for text in ax.texts]
    bubbles = []
    for points in ax.collections:  # a scatter's extent is not computed for us: centre +- radius, in pixels
        (x, y), = ax.transData.transform(points.get_offsets())
        radius = np.sqrt(points.get_sizes()[0]) / 2 * ax.figure.dpi / 72
        bubbles.append(Bbox.from_extents(x - radius, y - radius, x + radius, y + radius))
    for i, label in enumerate(labels):
        others = labels[:i] + labels[i + 1:] + bubbles[:i] + bubbles[i + 1:]
        assert not any(label.overlaps(other) for other in others), f"{rows[i].entry.name}'s label collides"
