r"""One global batch across processes (used by :mod:`genmodels.distributed`): its shards and its batch norm.

Under ``torchrun`` every rank takes ``batch_size / world_size`` rows of the global batch a single process would
draw (:func:`shard_minibatches`), and batch norm normalizes over the whole global batch (:class:`GlobalBatchNorm`
on the CPU, where ``torch.nn.SyncBatchNorm`` does not run; :func:`global_batch_norm` picks one).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["shard_minibatches", "GlobalBatchNorm", "global_batch_norm"]


def shard_minibatches(
    *tensors: torch.Tensor, batch_size: int, rank: int, world_size: int, rng: torch.Generator
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Rank ``rank``'s rows of global minibatches of ``batch_size``: ``batch_size / world_size`` rows a step.

    The global batches are those of :func:`genmodels.data.infinite_minibatches` with ``rng=rng``
    (one randperm per epoch, full batches only); with ``world_size=1`` the two yield the same batches.
    """
    n = len(tensors[0])
    if batch_size > n:
        raise ValueError(f"batch_size {batch_size} is larger than the {n} examples to draw from")
    local = batch_size // world_size
    device = tensors[0].device
    while True:
        order = torch.randperm(n, generator=rng).to(device)
        for start in range(0, n - n % batch_size, batch_size):
            index = order[start + rank * local : start + (rank + 1) * local]  # (B / N,)
            yield tuple(t[index] for t in tensors)


# ------------------------------------------------------------------ batch norm over the global batch
class _AllReduceSum(torch.autograd.Function):
    """Sum a tensor over the ranks; the gradient is summed over the ranks too (every rank's loss uses it)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training statistics are those of the global batch of all ranks, on any device.

    mean = sum(x) / n, var = sum(x^2) / n - mean^2 over the batch (and positions) of every rank, one
    all-reduce of ``(sum x, sum x^2, n)``; evaluation uses the running statistics, like ``nn.BatchNorm``.
    """

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected a batch (B, C, ...), got shape {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        if not self.training:
            return super().forward(x)
        channels = x.shape[1]
        dims = [0, *range(2, x.dim())]  # all but the channel
        shape = [1, channels] + [1] * (x.dim() - 2)
        count = torch.full((1,), x.numel() / channels, dtype=x.dtype, device=x.device)
        sums = _AllReduceSum.apply(torch.cat([x.sum(dims), (x * x).sum(dims), count]))  # (2C + 1,)
        n = sums[-1]
        mean = sums[:channels] / n
        var = sums[channels : 2 * channels] / n - mean**2  # biased, as batch norm normalizes
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                momentum = 1 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.lerp_(mean, momentum)
                self.running_var.lerp_(var * n / (n - 1), momentum)  # unbiased, as nn.BatchNorm keeps it
        y = (x - mean.reshape(shape)) * torch.rsqrt(var.reshape(shape) + self.eps)
        if self.affine:
            y = y * self.weight.reshape(shape) + self.bias.reshape(shape)
        return y


def global_batch_norm(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` with every batch norm computing global-batch statistics (same parameters and buffers)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        norm = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                               module.track_running_stats)
        if module.affine:
            norm.weight, norm.bias = module.weight, module.bias
        if module.track_running_stats:
            norm.running_mean, norm.running_var = module.running_mean, module.running_var
            norm.num_batches_tracked = module.num_batches_tracked
        norm.train(module.training)
        return norm
    for name, child in module.named_children():
        module.add_module(name, global_batch_norm(child, device))
    return module


# ------------------------------------------------------------------------------------ the run
