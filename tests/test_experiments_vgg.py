"""cnnlab.experiments.vgg: the effective kernel of a linear stack against scipy's full
convolution and against running the stack, and VGG-16's per-block parameter table."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.signal import convolve2d
from torch import nn

from cnnlab import arith
from cnnlab.experiments.vgg import (block_parameters, conv_stack, effective_kernel, input_support,
                                   stack_receptive_field)
from cnnlab.nets import VGG, VGG_CONFIGS, count_parameters, vgg16


def test_conv_stack_layers_and_seeded_weights():
    with_relu, without = conv_stack((3, 3, 3), 2, relu=True, seed=5), conv_stack((3, 3, 3), 2, relu=False, seed=5)
    assert [type(m).__name__ for m in with_relu] == ["Conv2d", "ReLU"] * 3
    assert [type(m).__name__ for m in without] == ["Conv2d"] * 3
    convs = [m for m in with_relu if isinstance(m, nn.Conv2d)]
    assert all(c.bias is None and c.weight.dtype == torch.float64 for c in convs)
    for a, b in zip(convs, without):
        assert torch.equal(a.weight, b.weight)
    assert not torch.equal(conv_stack(seed=6)[0].weight, conv_stack(seed=5)[0].weight)
    with pytest.raises(ValueError, match="positive kernel sizes"):
        conv_stack(())
    with pytest.raises(ValueError, match="kernel size must be >= 1"):
        conv_stack((3, 0))
    with pytest.raises(ValueError, match="channels"):
        conv_stack(channels=0)


@pytest.mark.parametrize("kernels, field", [((3,), 3), ((3, 3), 5), ((3, 3, 3), 7), ((5, 3), 7), ((7,), 7)])
def test_stack_receptive_field(kernels, field):
    assert stack_receptive_field(conv_stack(kernels)) == field == arith.receptive_field([(k, 1) for k in kernels])
    with pytest.raises(ValueError, match="no nn.Conv2d"):
        stack_receptive_field(nn.ReLU())


@pytest.mark.parametrize("kernels, size, cell, rows", [
    ((3, 3, 3), 15, None, range(4, 11)),      # centre (4, 4) of the 9x9 output reads rows 4..10
    ((3, 3, 3), 15, (0, 0), range(0, 7)),
    ((5, 3), 12, (2, 1), range(2, 9)),
])
def test_input_support_is_the_receptive_field_window(kernels, size, cell, rows):
    support = input_support(conv_stack(kernels, 2, relu=False), size, cell)
    expected = np.zeros((size, size), dtype=bool)
    cols = range(rows.start, rows.stop) if cell is None else range(cell[1], cell[1] + len(rows))
    expected[rows.start:rows.stop, cols.start:cols.stop] = True
    np.testing.assert_array_equal(support, expected)
    with pytest.raises(ValueError, match="outside"):
        input_support(conv_stack(kernels), size, (size, 0))


def test_effective_kernel_is_the_full_convolution_of_the_kernels():
    stack = conv_stack((3, 3, 3), 1, relu=False, seed=1)
    kernels = [m.weight[0, 0].detach().numpy() for m in stack]
    expected = convolve2d(convolve2d(kernels[0], kernels[1]), kernels[2])      # mode="full": 7x7
    np.testing.assert_allclose(effective_kernel(stack)[0, 0].numpy(), expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize("kernels, channels", [((3, 3, 3), 1), ((3, 3, 3), 3), ((3, 5), 2)])
def test_linear_stack_equals_one_convolution_with_the_effective_kernel(kernels, channels):
    stack = conv_stack(kernels, channels, relu=False, seed=2)
    kernel = effective_kernel(stack)
    r = stack_receptive_field(stack)
    assert kernel.shape == (channels, channels, r, r)
    x = torch.randn(2, channels, 16, 13, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(stack(x), F.conv2d(x, kernel), rtol=0, atol=1e-12)
    relu_stack = conv_stack(kernels, channels, relu=True, seed=2)
    assert not torch.allclose(relu_stack(x), F.conv2d(x, kernel))


def test_effective_kernel_needs_a_one_by_one_output():
    with pytest.raises(ValueError, match="stride 1 and no padding"):
        effective_kernel(nn.Sequential(nn.Conv2d(1, 1, 3, padding=1)))


def test_vgg16_block_table():
    with torch.device("meta"):
        model = vgg16()
    rows = block_parameters(model, (3, 224, 224))
    assert [r.name for r in rows] == ["block1", "block2", "block3", "block4", "block5", "fc1", "fc2", "fc3"]
    assert sum(r.params for r in rows) == count_parameters(model) == 138_357_544
    assert [r.output_shape for r in rows[:5]] == [(64, 112, 112), (128, 56, 56), (256, 28, 28),
                                                  (512, 14, 14), (512, 7, 7)]
    # each block's count is the lecture's F*F*D1*K + K summed over its convolutions
    channels, block, expected = 3, 0, [0] * 5
    for item in VGG_CONFIGS[16]:
        if item == "M":
            block += 1
            continue
        expected[block] += arith.conv_param_count(3, channels, item)
        channels = item
    assert [r.params for r in rows[:5]] == expected
    assert rows[2].layers == ("conv3_1", "conv3_2", "conv3_3")
    assert rows[5].params == 7 * 7 * 512 * 4096 + 4096


def test_small_vgg_block_table_with_batch_norm():
    rows = block_parameters(VGG(batch_norm=True), (1, 28, 28))
    assert [r.name for r in rows] == ["block1", "block2", "fc1", "fc2"]
    assert rows[0].layers == ("conv1_1", "bn1_1", "conv1_2", "bn1_2")
    assert rows[2].layers == ("fc1", "bn_fc1")
