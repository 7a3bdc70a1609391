"""Numbers that judge models: tensors in, plain numbers out, no plotting."""

from __future__ import annotations

import torch

from .losses import negative_elbo

__all__ = [
    "predict",
    "accuracy",
    "per_label_accuracy",
    "mean_pairwise_distance",
    "nearest_neighbor_distance",
    "test_negative_elbo",
]


@torch.no_grad()
def predict(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Logits of ``model`` on ``x``, in eval mode and in chunks: (N, C)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = torch.cat([model(x[i : i + batch_size].to(device)) for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return out


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of ``x`` that ``model`` labels as ``y``."""
    return (predict(model, x).argmax(1).cpu() == y.cpu()).float().mean().item()


def per_label_accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, num_classes: int = 10) -> list[float]:
    """Accuracy restricted to each label 0..num_classes-1 (NaN for a label with no example)."""
    hits = (predict(model, x).argmax(1).cpu() == y.cpu()).float()
    y = y.cpu()
    return [hits[y == k].mean().item() if (y == k).any() else float("nan") for k in range(num_classes)]


def mean_pairwise_distance(x: torch.Tensor) -> float:
    """Average Euclidean distance between distinct rows of ``x`` (N, ...): 0 means no diversity at all."""
    flat = x.reshape(len(x), -1).float()
    if len(flat) < 2:
        raise ValueError("need at least two samples to measure diversity")
    d = torch.cdist(flat, flat, compute_mode="donot_use_mm_for_euclid_dist")  # exact: 0 for equal rows
    return (d.sum() / (len(flat) * (len(flat) - 1))).item()


def nearest_neighbor_distance(x: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """For each row of ``x``, the Euclidean distance to its nearest row of ``reference``: (N,)."""
    a = x.reshape(len(x), -1).float()
    b = reference.reshape(len(reference), -1).float().to(a.device)
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist").min(dim=1).values  # exact: 0 for copies


@torch.no_grad()
def test_negative_elbo(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 500) -> float:
    """Mean negative ELBO of a VAE returning (logits, mu, logvar), in nats per image."""
    model.eval()
    device = next(model.parameters()).device
    total = 0.0
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size].to(device)
        total += negative_elbo(xb, *model(xb)).sum().item()
    return total / len(x)
