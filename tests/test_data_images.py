"""cnnlab.data.images: scaling and channel axes, flattening, LeNet's 28x28, block-mean
downsampling against torch's average pooling, and the tensor conversions with their errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab import data


def test_to_nchw_float():
    x = data.to_nchw_float(np.array([[[0, 255]], [[51, 102]]], dtype=np.uint8))
    assert x.shape == (2, 1, 1, 2) and x.dtype == np.float32
    np.testing.assert_allclose(x.ravel(), [0, 1, 0.2, 0.4], rtol=1e-6)
    floats = np.random.default_rng(0).normal(size=(2, 3, 4, 4))
    np.testing.assert_allclose(data.to_nchw_float(floats), floats.astype(np.float32))   # kept, not scaled
    with pytest.raises(ValueError, match=r"\(N, H, W\) or \(N, C, H, W\)"):
        data.to_nchw_float(np.zeros((2, 784)))
    with pytest.raises(ValueError, match="uint8 .* or floating point"):
        data.to_nchw_float(np.zeros((2, 28, 28), np.int64))
    with pytest.raises(ValueError, match="holds no images"):
        data.to_nchw_float(np.zeros((0, 28, 28), np.uint8))


def test_as_images_agrees_for_arrays_and_tensors():
    X = np.random.default_rng(1).integers(0, 256, (3, 5, 5), dtype=np.uint8)
    from_array, from_tensor = data.as_images(X), data.as_images(torch.from_numpy(X))
    assert from_array.dtype == torch.float32 and from_array.shape == (3, 1, 5, 5)
    assert torch.equal(from_array, from_tensor)
    assert torch.equal(from_array, torch.from_numpy(data.to_nchw_float(X)))
    with pytest.raises(ValueError, match="images must be uint8"):
        data.as_images(torch.zeros(2, 5, 5, dtype=torch.int32))


def test_as_tensors_checks_the_pair():
    X, y = np.zeros((4, 28, 28), np.uint8), np.arange(4)
    X_t, y_t = data.as_tensors((X, y))
    assert X_t.shape == (4, 1, 28, 28) and y_t.dtype == torch.int64
    with pytest.raises(ValueError, match="4 images but y has 3 labels"):
        data.as_tensors((X, y[:3]))
    with pytest.raises(ValueError, match="integer class labels"):
        data.as_tensors((X, y.astype(float)))


def test_flatten_images_scales_uint8():
    X = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    flat = data.flatten_images(X)
    assert flat.shape == (2, 12) and flat.dtype == np.float32
    assert flat[1, 11] == pytest.approx(23 / 255)
    assert data.flatten_images(np.ones((2, 1, 2, 2), np.float32)).shape == (2, 4)
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        data.flatten_images(np.zeros((5, 784)))


def test_to_28x28_keeps_28x28_images_and_enlarges_8x8_blocks():
    rng = np.random.default_rng(0)
    mnist_like = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    assert data.to_28x28(mnist_like) is mnist_like
    small = rng.integers(0, 256, (4, 8, 8), dtype=np.uint8)
    big = data.to_28x28(small)
    assert big.shape == (4, 28, 28) and big.dtype == np.uint8
    for i, j in [(0, 0), (3, 5), (7, 7)]:
        block = big[:, 2 + 3 * i:5 + 3 * i, 2 + 3 * j:5 + 3 * j]
        assert np.all(block == small[:, i, j, None, None])
    border = np.ones((28, 28), bool)
    border[2:26, 2:26] = False
    assert np.all(big[:, border] == 0)


@pytest.mark.parametrize("bad", [np.zeros((2, 32, 32), np.uint8), np.zeros((2, 28, 28), np.float32),
                                 np.zeros((28, 28), np.uint8)])
def test_to_28x28_rejects_other_inputs(bad):
    with pytest.raises(ValueError, match="28x28|uint8"):
        data.to_28x28(bad)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 4), cells=st.integers(1, 5), factor=st.integers(1, 4), seed=st.integers(0, 99))
def test_downsample_is_block_mean(n, cells, factor, seed):
    images = np.random.default_rng(seed).integers(0, 256, (n, cells * factor, cells * factor), dtype=np.uint8)
    small = data.downsample(images, factor)
    expected = F.avg_pool2d(torch.from_numpy(images).double().unsqueeze(1) / 255.0, factor).numpy()
    assert small.dtype == np.float32 and small.shape == (n, 1, cells, cells)
    np.testing.assert_allclose(small, expected, rtol=1e-6, atol=1e-7)


def test_downsample_errors():
    with pytest.raises(ValueError, match="does not divide"):
        data.downsample(np.zeros((1, 28, 28), np.uint8), 3)
    with pytest.raises(ValueError, match="uint8"):
        data.downsample(np.zeros((1, 28, 28)), 2)
    with pytest.raises(ValueError, match="factor must be >= 1"):
        data.downsample(np.zeros((1, 28, 28), np.uint8), 0)
