"""Pure-Python state models under the explorers (lecture: "A Closer Look at Convolution",
"Max Pooling", and the VGG argument for stacks of 3x3 layers).

No widgets and no drawing here: a state is a frozen description of one setting
(parameters -> output shape, validity, which input cells each output cell reads),
so it can be tested without a browser. Every size comes from :mod:`cnnlab.arith`::

    N_out = floor((N - F_eff + 2P) / S) + 1,     F_eff = D*(F - 1) + 1

Coordinates: ``(row, col)`` of the *unpadded* input, so padding cells have an index
``< 0`` or ``>= N``; add ``padding`` to get the index in the padded grid. Output
cells are visited in raster order (row by row), which is the order of the step control.

Modules: ``conv`` (:class:`ConvState`), ``pool`` (:class:`PoolState`, computed with
:mod:`cnnlab.reference.pool`), ``receptive_field`` (:class:`ReceptiveFieldState`) and
``text`` (number formatting and the size of one axis, shared by the three).
"""
from cnnlab.widgets.state.conv import ConvState
from cnnlab.widgets.state.pool import LECTURE_POOL_INPUT, PoolState
from cnnlab.widgets.state.receptive_field import ReceptiveFieldState
from cnnlab.widgets.state.text import format_fraction, format_number

__all__ = ["ConvState", "PoolState", "LECTURE_POOL_INPUT", "ReceptiveFieldState", "format_fraction",
           "format_number"]
