"""cnnlab.experiments.pooling: dead-unit counting on networks whose dead units are known,
repeated max pooling against torch, the unchanged fraction, and shift stability."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.experiments.pooling import (dead_units, max_pool_levels, relu_mlp, shift_stability,
                                        unchanged_fraction)


def test_relu_mlp_shapes_and_names():
    model = relu_mlp((32, 16), input_shape=(1, 8, 8), num_classes=5)
    assert model(torch.zeros(3, 1, 8, 8)).shape == (3, 5)
    assert [name for name, _ in model.named_children()] == ["flatten", "fc1", "relu1", "fc2", "relu2", "fc3"]
    assert model.fc1.in_features == 64
    with pytest.raises(ValueError, match="positive layer widths"):
        relu_mlp(())
    with pytest.raises(ValueError, match="hidden layer width must be >= 1"):
        relu_mlp((8, 0))


def known_model():
    """relu1: units 1 and 3 always 0 (bias -1, zero weights); relu2: units 0 and 2 always 0."""
    model = relu_mlp((4, 3), input_shape=(1, 2, 2), num_classes=2)
    with torch.no_grad():
        model.fc1.weight.zero_()
        model.fc1.bias.copy_(torch.tensor([1.0, -1.0, 1.0, -1.0]))
        model.fc2.weight.zero_()
        model.fc2.bias.copy_(torch.tensor([-1.0, 2.0, 0.0]))
    return model


def test_dead_units_counts_units_that_are_zero_on_every_input():
    model = known_model()
    model.train()
    result = dead_units(model, np.random.default_rng(0).random((10, 1, 2, 2)).astype(np.float32))
    assert result.per_layer == {"relu1": (2, 4), "relu2": (2, 3)}
    assert result.dead == 4 and result.units == 7 and result.fraction == pytest.approx(4 / 7)
    assert result.layer_fraction("relu1") == 0.5
    assert result.nonfinite == 0
    np.testing.assert_array_equal(result.masks["relu1"], [False, True, False, True])
    np.testing.assert_array_equal(result.masks["relu2"], [True, False, True])
    assert model.training                                    # mode restored
    assert all(not m._forward_hooks for m in model.modules())  # hooks removed


def test_a_unit_alive_on_one_input_only_is_not_dead():
    model = known_model()
    with torch.no_grad():
        model.fc1.weight[1] = torch.tensor([2.0, 0.0, 0.0, 0.0])   # unit 1 sees pixel (0, 0) only
    X = np.zeros((5, 1, 2, 2), dtype=np.float32)
    X[3, 0, 0, 0] = 1.0                                              # 2*1 - 1 > 0 for image 3 alone
    assert dead_units(model, X, batch_size=2).per_layer["relu1"] == (1, 4)
    assert dead_units(model, X[:3]).per_layer["relu1"] == (2, 4)


def test_dead_units_reports_a_diverged_network_and_needs_relus():
    model = known_model()
    with torch.no_grad():
        model.fc1.bias[0] = float("nan")
    assert dead_units(model, np.ones((2, 1, 2, 2), dtype=np.float32)).nonfinite >= 1
    with pytest.raises(ValueError, match="no nn.ReLU"):
        dead_units(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), np.ones((2, 1, 2, 2), dtype=np.float32))


@pytest.mark.parametrize("levels, size, stride", [(0, 2, None), (1, 2, None), (2, 2, None), (2, 3, 2)])
def test_max_pool_levels_matches_torch(levels, size, stride):
    x = np.random.default_rng(levels).standard_normal((2, 3, 28, 28))
    expected = torch.tensor(x)
    for _ in range(levels):
        expected = F.max_pool2d(expected, size, stride)
    np.testing.assert_array_equal(max_pool_levels(x, levels, size, stride), expected.numpy())
    with pytest.raises(ValueError, match="levels must be >= 0"):
        max_pool_levels(x, -1)


def test_unchanged_fraction_ignores_common_background():
    before = np.array([0, 1, 2, 3, 0])
    after = np.array([0, 1, 5, 0, 0])
    assert unchanged_fraction(before, after) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="shapes"):
        unchanged_fraction(before, after[:4])
    with pytest.raises(ValueError, match="no foreground"):
        unchanged_fraction(np.zeros(3), np.zeros(3))


def test_shift_stability_of_a_single_bright_pixel():
    image = np.zeros((1, 8, 8), dtype=np.uint8)
    image[0, 2, 2] = 200
    result = shift_stability(image, [(0, 0), (0, 1), (1, 0), (0, 2)], levels=(0, 1))
    assert result[(0, 0)] == {0: 1.0, 1: 1.0}
    assert result[(0, 1)] == {0: 0.0, 1: 1.0}     # the pixel stays in its 2x2 window
    assert result[(1, 0)] == {0: 0.0, 1: 1.0}
    assert result[(0, 2)] == {0: 0.0, 1: 0.0}     # it moves to the next window
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        shift_stability(np.zeros((8, 8)), [(0, 1)])


@pytest.mark.realdata
def test_pooling_is_more_stable_than_pixels_on_fashion_mnist(fashion_test):
    images = fashion_test[0][:300]
    result = shift_stability(images, [(0, 1), (1, 0)], levels=(0, 1, 2))
    for fractions in result.values():
        assert fractions[0] < fractions[1] < fractions[2]
