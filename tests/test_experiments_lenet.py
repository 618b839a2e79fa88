"""cnnlab.experiments.lenet: the 1998 paper's counts, the comparison with
published errors, and the NumPy-vs-torch timing helper."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from cnnlab import history  # noqa: E402
from cnnlab.experiments import lenet  # noqa: E402


def test_paper_lenet5_counts_match_the_paper():
    layers = {layer.name: layer for layer in lenet.paper_lenet5_layers()}
    assert [layer.shape for layer in layers.values()] == [(6, 28, 28), (6, 14, 14), (16, 10, 10),
                                                          (16, 5, 5), (120, 1, 1), (84,), (10,)]
    # the figures printed in LeCun et al. 1998, section II-B
    assert layers["C1"].params == 156 and layers["C1"].connections == 122_304
    assert layers["S2"].params == 12 and layers["S2"].connections == 5_880
    assert layers["C3"].params == 1_516 and layers["C3"].connections == 151_600
    assert layers["S4"].params == 32 and layers["S4"].connections == 2_000
    assert layers["C5"].connections == 48_120 and layers["F6"].params == 10_164
    assert sum(layer.params for layer in layers.values()) == 60_000
    assert sum(layer.connections for layer in layers.values()) == 340_908


def test_comparison_rows_put_published_errors_before_ours():
    rows = lenet.comparison_rows("mnist", {"LeNet-5 (ours)": 0.99, "SVM (ours)": 0.975})
    published = [r for r in rows if r.source != "this notebook"]
    assert {r.method: r.error_percent for r in published} == history.LECUN_1998_MNIST_ERRORS
    ours = rows[len(published):]
    assert [r.method for r in ours] == ["LeNet-5 (ours)", "SVM (ours)"]
    assert ours[0].error_percent == pytest.approx(1.0) and ours[1].error_percent == pytest.approx(2.5)
    assert all(r.dataset == "MNIST" for r in rows)


def test_comparison_rows_add_the_fashion_mnist_svc_on_fashion_mnist():
    rows = lenet.comparison_rows("fashion-mnist", {"LeNet-5 (ours)": 0.8})
    svc = [r for r in rows if r.dataset == "Fashion-MNIST" and r.source != "this notebook"]
    assert len(svc) == 1 and svc[0].error_percent == pytest.approx(100 * (1 - history.FASHION_MNIST_SVC_ACCURACY))
    assert rows[-1].dataset == "Fashion-MNIST" and rows[-1].error_percent == pytest.approx(20.0)
    assert not any(r.dataset == "Fashion-MNIST" for r in lenet.comparison_rows("digits", {"x": 0.9})[:-1])


@pytest.mark.parametrize("dataset, measured, match", [("cifar", {"x": 0.5}, "dataset"),
                                                      ("mnist", {"x": 95.0}, "accuracy")])
def test_comparison_rows_reject_bad_input(dataset, measured, match):
    with pytest.raises(ValueError, match=match):
        lenet.comparison_rows(dataset, measured)


def test_plot_comparison_draws_one_labelled_bar_per_row():
    import matplotlib.pyplot as plt

    rows = lenet.comparison_rows("fashion-mnist", {"LeNet-5 (ours)": 0.85, "SVM (ours)": 0.82})
    ax = lenet.plot_comparison(rows)
    bars = ax.containers[0]
    assert len(bars) == len(rows)
    assert [bar.get_width() for bar in bars] == pytest.approx([r.error_percent for r in rows])
    assert len({bar.get_hatch() for bar in bars}) == 3                 # one hatching per source
    assert len(ax.get_legend().get_texts()) == 3
    plt.close(ax.figure)


def test_epoch_speed_trains_both_networks_on_the_same_images():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (64, 8, 8), dtype=np.uint8)          # digits-sized: enlarged first
    labels = rng.integers(0, 10, 64)
    result = lenet.epoch_speed(images, labels, batch_size=32)
    assert result.images == 64 and result.batch_size == 32 and result.device == "cpu"
    assert result.numpy_seconds > 0 and result.torch_seconds > 0
    assert result.ratio == pytest.approx(result.numpy_seconds / result.torch_seconds)
    with pytest.raises(ValueError, match="at least one batch"):
        lenet.epoch_speed(images[:10], labels[:10], batch_size=32)


def test_epoch_speed_restores_torch_threads_and_checks_them():
    import torch

    rng = np.random.default_rng(1)
    images, labels = rng.integers(0, 256, (32, 28, 28), dtype=np.uint8), rng.integers(0, 10, 32)
    before = torch.get_num_threads()
    lenet.epoch_speed(images, labels, batch_size=32, threads=1)
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"):
        lenet.epoch_speed(images, labels, batch_size=32, threads=0)
