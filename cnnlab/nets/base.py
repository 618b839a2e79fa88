"""The base class of every course model: a named stack of layers that checks its input.

Every network in :mod:`cnnlab.nets` is an ``nn.Sequential`` of named layers (blocks
such as :class:`~cnnlab.nets.resnet.BasicBlock` count as one layer), so
``model.conv1`` works, :func:`~cnnlab.nets.measure.summary` can name each row, and a
wrong input shape fails at the door with a message saying what was expected::

    x : (N, C, H, W) with (C, H, W) == model.input_shape  ->  logits (N, num_classes)
"""
from __future__ import annotations

import contextlib
from collections import OrderedDict

import torch
from torch import nn

__all__ = ["Net", "in_mode", "model_device"]


def model_device(model: nn.Module) -> torch.device:
    """Device of ``model``'s first parameter (CPU for a model without parameters)."""
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


@contextlib.contextmanager
def in_mode(model: nn.Module, training: bool = False):
    """Run the ``with`` block with ``model`` in eval mode (``training=True``: train mode),
    then put back the mode it had, also when the block raises::

        with in_mode(model):          # eval: dropout off, batch norm's running averages
            logits = model(x)
    """
    was_training = model.training
    model.train(training)
    try:
        yield model
    finally:
        model.train(was_training)


class Net(nn.Sequential):
    """``nn.Sequential`` of named layers that knows its input shape ``(C, H, W)``.

    Parameters
    ----------
    layers : list of ``(name, module)`` pairs, run in order.
    input_shape : ``(C, H, W)`` of one image; checked by :meth:`check_input`.
    """

    def __init__(self, layers, input_shape):
        super().__init__(OrderedDict(layers))
        self.input_shape = tuple(int(s) for s in input_shape)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` naming the expected shape when ``x`` is not ``(N, *input_shape)``."""
        shape = tuple(x.shape)
        if x.dim() == 4 and shape[1:] == self.input_shape:
            return
        c, h, w = self.input_shape
        message = f"{type(self).__name__} expects a batch of shape (N, {c}, {h}, {w}); got {shape}"
        if x.dim() == 3 and shape[1:] == (h, w) and c == 1:
            message += ("; add the channel axis with x.unsqueeze(1) "
                        "(cnnlab.data.to_nchw_float does it for uint8 arrays)")
        elif x.dim() == 4 and shape[1] != c:
            message += f"; the model was built for {c} input channel(s)"
        elif x.dim() == 4:
            message += (f"; the model was built for {h}x{w} images: build it with "
                        f"input_size={shape[2]} if the model has that option, or resize the images")
        raise ValueError(message)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return super().forward(x)
