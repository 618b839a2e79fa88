"""Problem set 09 (ResNet): the solution passes every test cell, the untouched exercise fails
every one, and each mistake in batch norm, the residual block or its count loses points."""
from pathlib import Path

import pytest

from tests.setlib import run_cells

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "09_resnet.ipynb"


BN, BLOCK, COUNT = "batchnorm_eval", "residual_block_forward", "residual_block_params"
CONVS = ('h = np.maximum(batchnorm_eval(conv(x, params["conv1"], stride, 1), params["bn1"]), 0)\n'
         '    residual = batchnorm_eval(conv(h, params["conv2"], 1, 1), params["bn2"])')
STRIDE_LATE = ('h = np.maximum(batchnorm_eval(conv(x, params["conv1"], 1, 1), params["bn1"]), 0)\n'
               '    residual = batchnorm_eval(conv(h, params["conv2"], stride, 1), params["bn2"])')
ADD = ('residual = batchnorm_eval(conv(h, params["conv2"], 1, 1), params["bn2"])\n'
       '    shortcut = x\n'
       '    if "proj" in params:\n'
       '        shortcut = batchnorm_eval(conv(x, params["proj"], stride, 0), params["bn_proj"])\n'
       '    return np.maximum(residual + shortcut, 0)')
ADD_BEFORE_BN = ('shortcut = x\n'
                 '    if "proj" in params:\n'
                 '        shortcut = batchnorm_eval(conv(x, params["proj"], stride, 0), params["bn_proj"])\n'
                 '    return np.maximum(batchnorm_eval(conv(h, params["conv2"], 1, 1) + shortcut, params["bn2"]), 0)')

# mistake: (answer cell, (text in the solution, the mistake), test cells that must fail)
MISTAKES = {
    "eps outside the square root": (BN, ('np.sqrt(bn["var"].reshape(shape) + eps)', '(np.sqrt(bn["var"].reshape(shape)) + eps)'),
                                    ["test_batchnorm_eval"]),
    "batch statistics in test mode": (BN, ('bn["mean"].reshape(shape)', 'x.mean(axis=(0, 2, 3), keepdims=True)'),
                                      ["test_batchnorm_eval"]),
    "statistics broadcast along the last axis": (BN, ("shape = (1, -1, 1, 1)", "shape = (-1,)"), ["test_batchnorm_eval"]),
    "shortcut added before the last batch norm": (BLOCK, (ADD, ADD_BEFORE_BN),
                                                  ["test_residual_identity", "test_residual_projection"]),
    "ReLU before the addition": (BLOCK, ("return np.maximum(residual + shortcut, 0)", "return np.maximum(residual, 0) + shortcut"),
                                 ["test_residual_identity", "test_residual_projection"]),
    "no ReLU after the addition": (BLOCK, ("return np.maximum(residual + shortcut, 0)", "return residual + shortcut"),
                                   ["test_residual_identity", "test_residual_projection"]),
    "no ReLU between the convolutions": (BLOCK, ('h = np.maximum(batchnorm_eval(conv(x, params["conv1"], stride, 1), params["bn1"]), 0)',
                                                 'h = batchnorm_eval(conv(x, params["conv1"], stride, 1), params["bn1"])'),
                                         ["test_residual_identity", "test_residual_projection"]),
    "projection without the stride": (BLOCK, ('conv(x, params["proj"], stride, 0)', 'conv(x, params["proj"], 1, 0)'),
                                      ["test_residual_projection"]),
    "projection without its batch norm": (BLOCK, ('batchnorm_eval(conv(x, params["proj"], stride, 0), params["bn_proj"])',
                                                  'conv(x, params["proj"], stride, 0)'), ["test_residual_projection"]),
    "stride on the second convolution": (BLOCK, (CONVS, STRIDE_LATE), ["test_residual_projection"]),
    "conv biases counted": (COUNT, ("9 * c_in * c_out + 2 * c_out", "9 * c_in * c_out + c_out + 2 * c_out"),
                            ["test_residual_block_params"]),
    "running mean and variance counted": (COUNT, ("2 * c_out", "4 * c_out"), ["test_residual_block_params"]),
    "no projection when only the stride changes": (COUNT, ("stride != 1 or c_in != c_out", "c_in != c_out"),
                                                   ["test_residual_block_params"]),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_mistake_loses_points(mistake):
    cell, edit, failing = MISTAKES[mistake]
    errors = run_cells(SOLUTION, edits={cell: edit})
    assert all(errors[name] is not None for name in failing), (mistake, errors)
