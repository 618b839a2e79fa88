"""Interactive explorers for stride, padding, pooling and receptive fields (lecture: "A Closer
Look at Convolution", "Max Pooling", VGG's stacks of 3x3 layers).

* :class:`ConvExplorer` - window, padding, stride, dilation and the output-size formula;
* :class:`PoolExplorer` - max / average pooling values and max pooling's gradient routing;
* :class:`ReceptiveFieldExplorer` - the input region one deep cell depends on.

Each is a thin ipywidgets view over a pure-Python state model (:mod:`cnnlab.widgets.state`)
and displays as live widget + static PNG + one-line text, so notebooks read well anywhere.
"""
from cnnlab.widgets.explorers import ConvExplorer, PoolExplorer, ReceptiveFieldExplorer
from cnnlab.widgets.state import ConvState, PoolState, ReceptiveFieldState

__all__ = ["ConvExplorer", "PoolExplorer", "ReceptiveFieldExplorer",
           "ConvState", "PoolState", "ReceptiveFieldState"]
