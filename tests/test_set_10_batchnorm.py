"""Problem set 10 (batch normalization): the solution passes every test cell, the untouched
exercise fails every one, and each mistake students really make in the statistics, the running
averages, the modes or the backward pass loses the points of the task it is in."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.setlib import points_lost, run_cells

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "10_batchnorm.ipynb"

TRAIN, RUNNING, TEST_MODE = ("test_batchnorm_forward_train", "test_batchnorm_running_averages",
                             "test_batchnorm_forward_test_mode")
DX, DGAMMA, SPATIAL = "test_batchnorm_backward_dx", "test_batchnorm_backward_dgamma_dbeta", "test_spatial_batchnorm"
UPDATE = ('bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean\n'
          '        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var')
DX_LINE = "dx = (dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0)) / std"

# name: (answer cell, text in it, the mistaken text, the test cell that must fail)
MISTAKES = {
    "variance with ddof=1": ("batchnorm_forward", "var = x.var(axis=0)", "var = x.var(axis=0, ddof=1)", TRAIN),
    "eps outside the square root": ("batchnorm_forward", "np.sqrt(var + eps)", "np.sqrt(var) + eps", TRAIN),
    "eps forgotten": ("batchnorm_forward", "np.sqrt(var + eps)", "np.sqrt(var)", TRAIN),
    "divides by the variance, not the standard deviation": (
        "batchnorm_forward", "x_hat = (x - mean) / std", "x_hat = (x - mean) / (var + eps)", TRAIN),
    "mean over the features instead of the batch": (
        "batchnorm_forward", "mean = x.mean(axis=0)", "mean = x.mean(axis=1, keepdims=True)", TRAIN),
    "gamma and beta swapped": ("batchnorm_forward", "gamma * x_hat + beta", "beta * x_hat + gamma", TRAIN),
    "running averages used in train mode": (
        "batchnorm_forward", '    elif mode == "test":',
        '        mean, var = bn_param["running_mean"], bn_param["running_var"]\n    elif mode == "test":', TRAIN),
    "running mean with the momentum the other way round": (
        "batchnorm_forward", "momentum * running_mean + (1 - momentum) * mean",
        "(1 - momentum) * running_mean + momentum * mean", RUNNING),
    "running variance with the momentum the other way round": (
        "batchnorm_forward", "momentum * running_var + (1 - momentum) * var",
        "(1 - momentum) * running_var + momentum * var", RUNNING),
    "running averages not updated in train mode": ("batchnorm_forward", UPDATE, "pass", RUNNING),
    "running mean computed but not stored in bn_param": (
        "batchnorm_forward", 'bn_param["running_mean"] = ', "running_mean = ", RUNNING),
    "running variance from the unbiased batch variance (torch's convention)": (
        "batchnorm_forward", "(1 - momentum) * var", "(1 - momentum) * x.var(axis=0, ddof=1)", RUNNING),
    "running variance averages the standard deviation": (
        "batchnorm_forward", "(1 - momentum) * var", "(1 - momentum) * np.sqrt(var)", RUNNING),
    "default momentum 0.1 (torch's number)": (
        "batchnorm_forward", 'bn_param.get("momentum", 0.9)', 'bn_param.get("momentum", 0.1)', RUNNING),
    "default running variance of ones instead of the zeros asked for": (
        "batchnorm_forward", 'bn_param.get("running_var", np.zeros(x.shape[1]))',
        'bn_param.get("running_var", np.ones(x.shape[1]))', RUNNING),
    "test mode normalizes with the batch statistics": (
        "batchnorm_forward", "mean, var = running_mean, running_var", "mean, var = x.mean(axis=0), x.var(axis=0)",
        TEST_MODE),
    "test mode updates the running averages": (
        "batchnorm_forward", "mean, var = running_mean, running_var",
        'mean, var = running_mean, running_var\n'
        '        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * x.mean(axis=0)', TEST_MODE),
    "mode ignored (always train)": ("batchnorm_forward", 'if mode == "train":', "if True:", TEST_MODE),
    "dx misses the path through the mean": (
        "batchnorm_backward", "dx_hat - dx_hat.mean(axis=0) - x_hat", "dx_hat - x_hat", DX),
    "dx misses the path through the variance": (
        "batchnorm_backward", " - x_hat * (dx_hat * x_hat).mean(axis=0)", "", DX),
    "dx treats the batch statistics as constants": ("batchnorm_backward", DX_LINE, "dx = dx_hat / std", DX),
    "dx forgets gamma": ("batchnorm_backward", "dx_hat = dout * gamma", "dx_hat = dout", DX),
    "dx with the variance term's sign flipped": (
        "batchnorm_backward", "- x_hat * (dx_hat", "+ x_hat * (dx_hat", DX),
    "dx divides by the variance instead of the standard deviation": (
        "batchnorm_backward", ") / std", ") / std ** 2", DX),
    "dx averages over N - 1": (
        "batchnorm_backward", "dx_hat.mean(axis=0)", "dx_hat.sum(axis=0) / (len(dout) - 1)", DX),
    "dgamma not summed over the batch": (
        "batchnorm_backward", "(dout * x_hat).sum(axis=0)", "dout * x_hat", DGAMMA),
    "dgamma without x_hat": ("batchnorm_backward", "(dout * x_hat).sum(axis=0)", "dout.sum(axis=0)", DGAMMA),
    "dgamma multiplied by gamma": (
        "batchnorm_backward", "(dout * x_hat).sum(axis=0)", "(dout * gamma * x_hat).sum(axis=0)", DGAMMA),
    "dbeta averaged instead of summed": (
        "batchnorm_backward", "dbeta = dout.sum(axis=0)", "dbeta = dout.mean(axis=0)", DGAMMA),
    "dbeta summed over the features": (
        "batchnorm_backward", "dbeta = dout.sum(axis=0)", "dbeta = dout.sum(axis=1)", DGAMMA),
    "spatial forward flattens without moving the channel axis": (
        "spatial_batchnorm", "x.transpose(0, 2, 3, 1).reshape(-1, c)", "x.reshape(-1, c)", SPATIAL),
    "spatial forward reshapes back without moving the channel axis": (
        "spatial_batchnorm", "out.reshape(n, h, w, c).transpose(0, 3, 1, 2)", "out.reshape(n, c, h, w)", SPATIAL),
    "spatial backward flattens dout without moving the channel axis": (
        "spatial_batchnorm", "dout.transpose(0, 2, 3, 1).reshape(-1, c)", "dout.reshape(-1, c)", SPATIAL),
    "spatial backward reshapes dx back without moving the channel axis": (
        "spatial_batchnorm", "dx.reshape(n, h, w, c).transpose(0, 3, 1, 2)", "dx.reshape(n, c, h, w)", SPATIAL),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # a mutant may divide by zero on its way to failing
@pytest.mark.parametrize("name", MISTAKES)
def test_planted_mistake_loses_points(name):
    answer_cell, old, new, failing_cell = MISTAKES[name]
    results = run_cells(SOLUTION, edits={answer_cell: (old, new)})
    assert results[failing_cell] is not None, f"{name!r} passes {failing_cell}: make that test stronger"


def test_an_unknown_mode_treated_as_test_mode_costs_only_that_point():
    edits = {"batchnorm_forward": ('elif mode == "test":', "elif True:")}
    assert points_lost(SOLUTION, run_cells(SOLUTION, edits=edits)) == {"test_batchnorm_mode_error": 1.0}


# An independent correct implementation in cs231n's style: bn_param also holds a dtype (not an array
# or a number), the cache is a namedtuple read by attribute. It keeps all 14 points.
CS231N_FORWARD = """
from collections import namedtuple

BatchNormCache = namedtuple("BatchNormCache", "x_hat gamma std")


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    N, D = x.shape
    dtype = bn_param.setdefault("dtype", x.dtype)
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=dtype))
    if mode == "train":
        sample_mean, sample_var = x.mean(axis=0), x.var(axis=0)
        std = np.sqrt(sample_var + eps)
        x_hat = (x - sample_mean) / std
        running_mean = momentum * running_mean + (1 - momentum) * sample_mean
        running_var = momentum * running_var + (1 - momentum) * sample_var
    elif mode == "test":
        std = np.sqrt(running_var + eps)
        x_hat = (x - running_mean) / std
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)
    bn_param["running_mean"], bn_param["running_var"] = running_mean, running_var
    return gamma * x_hat + beta, BatchNormCache(x_hat, gamma, std)
"""
CS231N_BACKWARD = """
def batchnorm_backward(dout, cache):
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * cache.x_hat, axis=0)
    dx_hat = dout * cache.gamma
    dx = (N * dx_hat - dx_hat.sum(axis=0) - cache.x_hat * np.sum(dx_hat * cache.x_hat, axis=0)) / (N * cache.std)
    return dx, dgamma, dbeta
"""


def test_correct_cs231n_style_code_with_a_dtype_in_bn_param_and_a_namedtuple_cache_keeps_every_point():
    answers = {"batchnorm_forward": CS231N_FORWARD, "batchnorm_backward": CS231N_BACKWARD}
    assert points_lost(SOLUTION, run_cells(SOLUTION, answers=answers)) == {}


def test_a_backward_test_names_the_forward_it_took_the_cache_from():
    """A wrong forward fails the backward tests too (their cache is the student's), and says why."""
    results = run_cells(SOLUTION, edits={"batchnorm_forward": ("var = x.var(axis=0)", "var = x.var(axis=0, ddof=1)")})
    for cell in (DX, DGAMMA):
        assert "batchnorm_forward's output is wrong" in results[cell], results[cell]
