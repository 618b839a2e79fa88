"""Batch normalization for conv feature maps, written out in torch (Ioffe and Szegedy, 2015).
Lecture: "Batch Normalization" (Algorithm 2) and "BatchNorm at Test".

For ``x`` of shape ``(N, C, H, W)`` the statistics are per channel, over the
``m = N*H*W`` values of that channel in the batch::

    train:  mu = mean(x),  var = mean((x - mu)^2)                 (biased: divide by m)
            running_mean <- (1 - momentum) * running_mean + momentum * mu
            running_var  <- (1 - momentum) * running_var  + momentum * var * m/(m - 1)
    eval:   mu, var = running_mean, running_var                   (nothing is updated)
    both:   y = gamma * (x - mu) / sqrt(var + eps) + beta

The running variance uses the *unbiased* batch variance, the normalization the biased
one, exactly like ``torch.nn.BatchNorm2d``; ``momentum=None`` makes the running
statistics a plain average over all batches seen (``momentum = 1/num_batches_tracked``).

Which branch runs is decided by ``module.training`` (``model.train()`` / ``model.eval()``),
never by whether gradients are being recorded: evaluating under ``torch.no_grad()`` in
train mode still uses (and updates) batch statistics, and a model in eval mode uses the
running statistics even while gradients flow. Deciding by grad mode, as one popular
textbook's from-scratch version does, silently uses batch statistics whenever a user
evaluates with gradients on, and running statistics when training under ``no_grad``.

The parameter and buffer names match torch's, so ``load_state_dict`` works both ways.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["BatchNorm2d"]


class BatchNorm2d(nn.Module):
    """Batch norm over ``(N, C, H, W)`` with ``C = num_features``; output has the input's shape.

    Parameters: ``weight`` (gamma, ones) and ``bias`` (beta, zeros), shape ``(C,)``.
    Buffers: ``running_mean`` (zeros), ``running_var`` (ones), ``num_batches_tracked``.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm2d({self.num_features}) expects (N, {self.num_features}, H, W); "
                             f"got {tuple(x.shape)}")
        if self.training:
            m = x.numel() // self.num_features
            if m < 2:
                raise ValueError(f"batch norm in train mode needs more than one value per channel, "
                                 f"got input {tuple(x.shape)}; use a larger batch or model.eval()")
            mean = x.mean(dim=(0, 2, 3))
            var = ((x - mean[None, :, None, None]) ** 2).mean(dim=(0, 2, 3))
            with torch.no_grad():
                self.num_batches_tracked += 1
                factor = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - factor).add_(factor * mean.detach())
                self.running_var.mul_(1 - factor).add_(factor * var.detach() * m / (m - 1))
        else:
            mean, var = self.running_mean, self.running_var
        scale = self.weight / torch.sqrt(var + self.eps)
        return (x - mean[None, :, None, None]) * scale[None, :, None, None] + self.bias[None, :, None, None]

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"
