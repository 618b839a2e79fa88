"""How :func:`cnnlab.train.fit` takes one optimizer step: eagerly, or as a CUDA graph.

Both step objects train on ``X[idx], y[idx]`` (the whole training set already lives on
the device; ``idx`` is one batch of a shuffled order) with cross-entropy, and keep their
running sums on the device (``loss_sum``, ``correct``; ``last_loss`` is the batch's mean
loss), so the loop reads them once per epoch and never stalls a GPU with ``.item()``.

On CUDA, ``amp`` runs the forward pass in bf16 autocast. :class:`GraphStep` captures the
whole step (forward, backward, optimizer) once and replays it for every batch; the graph
needs equal-sized batches, and a captured SGD step bakes its learning rate in, so
:func:`make_optimizer` keeps a capturable Adam's rate in a device tensor instead
(:func:`set_lr` updates it in place, which a schedule needs).
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.nets.base import model_device

__all__ = ["EagerStep", "GraphStep", "make_optimizer", "set_lr", "autocast", "bf16_ok"]


def bf16_ok(device: torch.device) -> bool:
    """Whether bf16 autocast is used on ``device``: CUDA GPUs that support bf16."""
    return device.type == "cuda" and torch.cuda.is_bf16_supported()


def autocast(device: torch.device, amp: bool):
    """bf16 autocast on ``device`` when ``amp``, else a no-op context."""
    if amp:
        return torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=False)
    return contextlib.nullcontext()


class EagerStep:
    """One optimizer step on the batch ``X[idx], y[idx]``; loss and correct counts are
    summed on the device (``loss_sum``, ``correct``) and read once per epoch."""

    drop_last = False

    def __init__(self, model, opt, X, y, amp: bool):
        self.model, self.opt, self.X, self.y, self.amp = model, opt, X, y, amp
        self.loss_sum = torch.zeros((), device=X.device)
        self.last_loss = torch.zeros((), device=X.device)
        self.correct = torch.zeros((), dtype=torch.long, device=X.device)

    def reset(self) -> None:
        self.loss_sum.zero_()
        self.correct.zero_()

    def _body(self, idx: torch.Tensor) -> None:
        xb, yb = self.X[idx], self.y[idx]
        with autocast(self.X.device, self.amp):
            out = self.model(xb)
            loss = F.cross_entropy(out, yb)
        loss.backward()
        self.opt.step()
        self.last_loss.copy_(loss.detach())
        self.loss_sum += self.last_loss * len(yb)
        self.correct += (out.argmax(1) == yb).sum()

    def __call__(self, idx: torch.Tensor) -> None:
        self.opt.zero_grad(set_to_none=True)
        self._body(idx)


class GraphStep(EagerStep):
    """The same step captured once as a CUDA graph and replayed for every batch.

    Capture follows PyTorch's recipe (warm-up iterations on a side stream, gradients
    set to None, then capture forward + backward + ``optimizer.step()``). The warm-up
    steps change the weights, so the model's state and the optimizer's state are put
    back afterwards: training starts from exactly the weights ``fit`` was given.
    Only the index tensor changes between replays (copied into ``self.idx``).
    """

    drop_last = True

    def __init__(self, model, opt, X, y, amp: bool, batch_size: int, warmup: int = 3):
        super().__init__(model, opt, X, y, amp)
        self.idx = torch.arange(batch_size, device=X.device)
        saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
        try:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(warmup):
                    super().__call__(self.idx)
            torch.cuda.current_stream().wait_stream(side)
            opt.zero_grad(set_to_none=True)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self._body(self.idx)
        finally:  # undo the warm-up steps, also when capture failed
            with torch.no_grad():
                model.load_state_dict(saved)
                for state in opt.state.values():
                    for value in state.values():
                        if isinstance(value, torch.Tensor):
                            value.zero_()
        self.reset()

    def __call__(self, idx: torch.Tensor) -> None:
        self.idx.copy_(idx)
        self.graph.replay()


def make_optimizer(name: str, model: nn.Module, lr: float, momentum: float, weight_decay: float,
                   capturable: bool):
    """SGD with momentum, or Adam; a capturable Adam keeps its learning rate in a device
    tensor, which a CUDA graph reads at every replay, so a schedule can change it."""
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    if capturable:
        lr = torch.tensor(lr, device=model_device(model))
    return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay, capturable=capturable)


def set_lr(opt, value: float) -> None:
    """Set every parameter group's learning rate; in place for a device tensor (a captured
    graph reads that memory)."""
    for group in opt.param_groups:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(value)
        else:
            group["lr"] = value
