"""Problem set 07 (VGG): the solution passes every test cell, the untouched exercise fails
every one, and each mistake students make loses the points of the task it belongs to."""
from pathlib import Path

import pytest

from tests.setlib import run_cells

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "07_vgg.ipynb"


# mistake: (answer cell, (text in the solution, the mistake), test cell that must fail)
MISTAKES = {
    "receptive field grows by F instead of F - 1": ("receptive_field", ("(f - 1) * jump", "f * jump"), "test_receptive_field"),
    "receptive field starts at 0 pixels": ("receptive_field", ("field, jump = 1, 1", "field, jump = 0, 1"), "test_receptive_field"),
    "strides ignored": ("receptive_field", ("jump *= s", "jump *= 1"), "test_receptive_field"),
    "a layer's stride applied to its own step": (
        "receptive_field", ("field += (f - 1) * jump\n        jump *= s", "jump *= s\n        field += (f - 1) * jump"),
        "test_receptive_field"),
    "stack without biases": ("stack_params", ("(channels if bias else 0)", "0"), "test_stack_params"),
    "one bias per layer instead of C": ("stack_params", ("(channels if bias else 0)", "(1 if bias else 0)"), "test_stack_params"),
    "F instead of F * F weights per channel pair": ("stack_params", ("f * f * channels", "f * channels"), "test_stack_params"),
    "VGG convs without biases": ("vgg_params", ("3 * 3 * channels * item + item", "3 * 3 * channels * item"), "test_vgg_params"),
    "VGG conv depth never updated": ("vgg_params", ("channels = item", "pass"), "test_vgg_params"),
    "pools round up": ("vgg_params", ("size = (size - 2) // 2 + 1", "size = (size + 1) // 2"), "test_vgg_params"),
    "pools ignored in the flattened size": ("vgg_params", ("size = (size - 2) // 2 + 1", "pass"), "test_vgg_params"),
    "FC layers without biases": ("vgg_params", ("features * width + width", "features * width"), "test_vgg_params"),
    "last FC layer forgotten": ("vgg_params", ("list(hidden) + [num_classes]", "list(hidden)"), "test_vgg_params"),
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_mistake_loses_points(mistake):
    cell, edit, failing = MISTAKES[mistake]
    errors = run_cells(SOLUTION, edits={cell: edit})
    assert errors[failing] is not None, f"{mistake!r} passes {failing}"
