"""Every public function of cnnlab.reference states its shapes in its own docstring (what
Shift-Tab shows in Jupyter), not only in its module's."""
from __future__ import annotations

import inspect
import re

import pytest

from cnnlab import reference

#: a shape such as ``(N, C, H, W)``, ``(n,)`` or ``(K, C, FH, FW)``, "the shape of x", or scalars
SHAPE = re.compile(r"\((?:[\w*+/ -]+, )+[\w*+/ -]+\)|\(\w+,\)|shape of|scalar")
FUNCTIONS = [name for name in reference.__all__ if inspect.isfunction(getattr(reference, name))]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_public_function_states_shapes(name):
    doc = inspect.getdoc(getattr(reference, name)) or ""
    assert SHAPE.search(doc), f"cnnlab.reference.{name}: its docstring names no input or output shape"


def test_numpy_lenet_methods_state_shapes():
    for name in ("forward", "backward", "loss", "predict"):
        assert SHAPE.search(inspect.getdoc(getattr(reference.NumpyLeNet5, name))), name
