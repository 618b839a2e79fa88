"""cnnlab.experiments.perceptron: the instrumented perceptron, the bound experiment, the
decision-region plot (lecture notebook 01)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnnlab.data import make_separable, make_xor  # noqa: E402
from cnnlab.experiments import perceptron as exp  # noqa: E402
from cnnlab.reference import novikoff_bound, perceptron_fit  # noqa: E402


@pytest.mark.parametrize("seed", range(8))
def test_trace_agrees_with_the_reference_perceptron(seed):
    data = make_separable(n=80, dim=2 + seed % 3, margin=0.05, rng=seed)
    trace = exp.perceptron_trace(data.X, data.y, max_epochs=5000)
    fit = perceptron_fit(data.X, data.y, max_epochs=5000)
    assert trace.converged and fit.converged
    assert trace.updates == fit.updates == sum(trace.mistakes_per_epoch)
    assert len(trace.mistakes_per_epoch) == fit.epochs and trace.mistakes_per_epoch[-1] == 0
    np.testing.assert_allclose(trace.w_hats[-1][:-1], fit.w)
    assert trace.w_hats[-1][-1] * trace.R == pytest.approx(fit.b)
    np.testing.assert_array_equal(trace.w_hats[0], 0)


@pytest.mark.parametrize("seed", range(6))
def test_proof_inequalities_hold_at_every_update(seed):
    data = make_separable(n=150, dim=3, margin=0.02, rng=100 + seed)
    trace = exp.perceptron_trace(data.X, data.y, max_epochs=5000)
    k = np.arange(trace.updates + 1)
    w_opt_hat = np.append(data.w, data.b / trace.R)
    assert np.all(np.sum(trace.w_hats ** 2, axis=1) <= 2 * k * trace.R ** 2 + 1e-9)
    assert np.all(trace.w_hats @ w_opt_hat >= k * data.gamma - 1e-9)
    # consecutive iterates differ by exactly one signed augmented point
    steps = np.diff(trace.w_hats, axis=0)
    X_hat = exp.augment(data.X, trace.R)
    for step in steps[:20]:
        assert np.any(np.all(np.isclose(np.abs(step), np.abs(X_hat)), axis=1))


def test_trace_on_xor_keeps_making_mistakes():
    X, y = make_xor(n=40, noise=0.1, signed=True, rng=1)
    trace = exp.perceptron_trace(X, y, max_epochs=60)
    assert not trace.converged and len(trace.mistakes_per_epoch) == 60
    assert min(trace.mistakes_per_epoch) >= 1


def test_augment_puts_the_bias_inside():
    X = np.random.default_rng(0).normal(size=(7, 3))
    w, b, R = np.array([0.5, -1.0, 2.0]), 0.3, 4.0
    X_hat = exp.augment(X, R)
    assert X_hat.shape == (7, 4) and np.all(X_hat[:, -1] == R)
    np.testing.assert_allclose(X_hat @ np.append(w, b / R), X @ w + b)
    with pytest.raises(ValueError, match="2-D"):
        exp.augment(np.zeros(3), 1.0)


def test_trace_rejects_bad_labels():
    with pytest.raises(ValueError, match="-1, \\+1"):
        exp.perceptron_trace(np.zeros((3, 2)) + 1.0, np.array([0, 1, 1]))


def test_novikoff_experiment_records_every_run():
    res = exp.novikoff_experiment([0.05, 0.2], [0.5, 3.0], dims=[2, 4], seeds=[0, 1], n=60)
    assert all(len(v) == 16 for v in res.values())
    assert np.all(res["converged"]) and np.all(res["updates"] <= res["bound"])
    np.testing.assert_allclose(res["bound"], (2 * res["R"] / res["gamma"]) ** 2)
    assert np.all(res["gamma"] >= res["margin"] * res["radius"] - 1e-12)
    assert np.all(res["R"] <= res["radius"] + 1e-12)
    # every setting draws its own data: the ratio R/gamma is not repeated across radii
    ratios = res["R"] / res["gamma"]
    assert len(np.unique(np.round(ratios, 9))) == len(ratios)
    assert np.all(res["bound"] == [novikoff_bound(R, g) for R, g in zip(res["R"], res["gamma"])])


def test_plot_decision_regions_draws_and_checks_input():
    X, y = make_xor(n=40, rng=0)
    fig, ax = plt.subplots()
    out = exp.plot_decision_regions(ax, lambda P: (P[:, 0] * P[:, 1] < 0).astype(int), X, y, title="xor")
    assert out is ax and ax.get_title() == "xor"
    assert len(ax.collections) >= 2          # shaded regions + the scattered points
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["class 0", "class 1", "predicted class 0", "predicted class 1", "decision boundary"]
    with pytest.raises(ValueError, match="two classes"):
        exp.plot_decision_regions(ax, lambda P: P[:, 0], X, np.arange(40) % 3)
    plt.close(fig)
