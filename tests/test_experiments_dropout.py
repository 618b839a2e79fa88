"""cnnlab.experiments.dropout: the lecture's dropout rule, the expectation check against
inverted dropout, and the gap plot."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from cnnlab.experiments import dropout  # noqa: E402
from cnnlab.train import History  # noqa: E402


@pytest.mark.parametrize("p_keep", [0.2, 0.5, 0.9])
def test_lecture_dropout_keeps_with_probability_p_and_scales_by_p_at_test(p_keep):
    x = np.linspace(-3, 3, 200_000) + 0.01
    out = dropout.dropout_lecture(x, p_keep, rng=0)
    kept = out != 0
    assert np.array_equal(out[kept], x[kept])                      # survivors are not rescaled
    se = np.sqrt(p_keep * (1 - p_keep) / x.size)
    assert abs(kept.mean() - p_keep) < 5 * se
    assert np.allclose(dropout.dropout_lecture(x, p_keep, train=False), p_keep * x)


def test_lecture_dropout_is_reproducible_and_checks_p():
    x = np.ones((4, 5))
    assert np.array_equal(dropout.dropout_lecture(x, 0.5, rng=3), dropout.dropout_lecture(x, 0.5, rng=3))
    assert np.array_equal(dropout.dropout_lecture(x, 1.0, rng=3), x)
    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="probability of keeping"):
            dropout.dropout_lecture(x, bad)


@pytest.mark.parametrize("p_keep", [0.3, 0.5, 0.8])
def test_both_conventions_have_the_test_output_as_expectation(p_keep):
    rng = np.random.default_rng(1)
    x = rng.normal(size=50)
    checks = dropout.expectation_check(x, p_keep, draws=20_000, rng=2)
    lecture, inverted = checks["lecture"], checks["inverted"]
    assert np.allclose(lecture.test, p_keep * x) and np.allclose(inverted.test, x)
    assert lecture.max_z < 5 and inverted.max_z < 5
    # the two conventions differ by the constant factor p, in training and at test time
    assert np.allclose(inverted.test * p_keep, lecture.test)
    assert np.allclose(inverted.standard_error * p_keep, lecture.standard_error)
    # the standard error of a mean of `draws` Bernoulli-masked copies of x
    assert lecture.standard_error == pytest.approx(np.abs(x) * np.sqrt(p_keep * (1 - p_keep) / 20_000))


def test_expectation_check_detects_a_wrong_test_rule():
    x = np.full(20, 2.0)
    check = dropout.expectation_check(x, 0.5, draws=20_000, rng=0)["lecture"]
    wrong = dropout.ExpectationCheck("no scaling at test", check.train_mean, x, check.standard_error, check.draws)
    assert wrong.max_z > 50                                          # forgetting the factor p is caught


def test_expectation_check_rejects_bad_input():
    with pytest.raises(ValueError, match="1-D"):
        dropout.expectation_check(np.ones((2, 2)), 0.5)
    with pytest.raises(ValueError, match="draws"):
        dropout.expectation_check(np.ones(3), 0.5, draws=1)


def _history(train, val):
    return History(train_loss=[1.0] * len(train), train_acc=list(train), val_acc=list(val))


def test_plot_gap_draws_curves_and_gaps():
    import matplotlib.pyplot as plt

    runs = {"no dropout": _history([0.5, 0.8, 0.95], [0.5, 0.6, 0.62]),
            "dropout": _history([0.4, 0.6, 0.7], [0.45, 0.58, 0.64])}
    fig = dropout.plot_gap(runs)
    ax_acc, ax_gap = fig.axes
    assert len(ax_acc.get_lines()) == 4
    gaps = [line.get_ydata() for line in ax_gap.get_lines() if len(line.get_ydata()) == 3]
    assert np.allclose(gaps[0], [0.0, 0.2, 0.33]) and np.allclose(gaps[1], [-0.05, 0.02, 0.06])
    assert ax_gap.get_ylabel() and ax_acc.get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match="validation"):
        dropout.plot_gap({"x": _history([0.5], [])})


def test_he_initialize_gives_variance_two_over_fan_in_and_zero_bias():
    import torch
    from torch import nn

    from cnnlab.nets import SmallAlexNet

    model = dropout.he_initialize(SmallAlexNet(), seed=0)
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            w = module.weight.detach()
            fan_in = w[0].numel()
            # sample variance of n normal draws: relative standard error sqrt(2/n)
            tolerance = 5 * np.sqrt(2 / w.numel())
            assert float(w.var()) == pytest.approx(2 / fan_in, rel=tolerance)
            assert torch.all(module.bias == 0)
    again = dropout.he_initialize(SmallAlexNet(), seed=0)
    assert torch.equal(again.conv1.weight, model.conv1.weight)
    # keeps the signal's size: the logits of a He-initialised net are far larger than torch's default
    x = torch.rand(64, 1, 28, 28)
    default = SmallAlexNet().eval()
    with torch.no_grad():
        assert float(model.eval()(x).std()) > 3 * float(default(x).std())


@pytest.mark.parametrize("groups", [1, 2])
def test_alexnet_layer_costs_match_the_torch_model(groups):
    import torch

    from cnnlab.nets import AlexNet, count_parameters

    costs = dropout.alexnet_layer_costs(groups)
    with torch.device("meta"):
        model = AlexNet(groups=groups)
    assert [c.name for c in costs] == ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"]
    for cost in costs:
        assert cost.params == count_parameters(getattr(model, cost.name)), cost.name
    assert sum(c.params for c in costs) == count_parameters(model)


def test_alexnet_multiply_adds_count_every_output_once():
    costs = {c.name: c for c in dropout.alexnet_layer_costs(2)}
    assert costs["conv1"].mult_adds == 55 * 55 * 96 * (11 * 11 * 3)
    assert costs["conv2"].mult_adds == 27 * 27 * 256 * (5 * 5 * 48)      # two groups: 48 input channels
    assert costs["fc6"].mult_adds == 256 * 6 * 6 * 4096
    assert sum(c.mult_adds for c in costs.values()) == 724_406_816
    one_tower = {c.name: c for c in dropout.alexnet_layer_costs(1)}
    assert one_tower["conv2"].mult_adds == 2 * costs["conv2"].mult_adds
    with pytest.raises(ValueError, match="groups"):
        dropout.alexnet_layer_costs(3)


def test_plot_layer_costs_shows_shares_that_add_up():
    import matplotlib.pyplot as plt

    costs = dropout.alexnet_layer_costs()
    fig = dropout.plot_layer_costs(costs)
    for ax in fig.axes:
        heights = [bar.get_height() for bar in ax.containers[0]]
        assert len(heights) == 8 and sum(heights) == pytest.approx(100)
    assert len({bar.get_hatch() for bar in fig.axes[0].containers[0]}) == 2
    plt.close(fig)
