r"""Losses as small pure functions of tensors: per-example values, the caller averages.

All values are in nats. For images, "per image" means summed over the 784 pixels.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = ["kl_std_normal", "bernoulli_log_likelihood", "negative_elbo", "vae_loss"]


def kl_std_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    r"""KL( N(mu, diag(exp(logvar))) || N(0, I) ) per example, (B, k) -> (B,).

    = 1/2 * sum_j ( mu_j^2 + sigma_j^2 - log sigma_j^2 - 1 )
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(dim=1)


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""log p(x | z) = sum_i x_i log p_i + (1 - x_i) log(1 - p_i), p = sigmoid(logits); (B, ...) -> (B,).

    Accepts x in [0, 1] (grey levels act as soft targets, as in pytorch/examples' VAE).
    """
    x = x.reshape(len(x), -1)
    return -F.binary_cross_entropy_with_logits(logits.reshape(len(x), -1), x, reduction="none").sum(dim=1)


def negative_elbo(
    x: torch.Tensor, logits: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, beta: float = 1.0
) -> torch.Tensor:
    r"""-ELBO = beta * KL(q(z|x) || p(z)) - E_q[log p(x|z)] per example (B,), one sample of z."""
    return beta * kl_std_normal(mu, logvar) - bernoulli_log_likelihood(logits, x)


def vae_loss(model: torch.nn.Module, x: torch.Tensor, *_: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mean negative ELBO in nats per image, for :func:`genmodels.training.fit` (labels ignored)."""
    logits, mu, logvar = model(x)
    kl = kl_std_normal(mu, logvar)
    rec = -bernoulli_log_likelihood(logits, x)
    return {"loss": (kl + rec).mean(), "kl": kl.mean(), "reconstruction": rec.mean()}
