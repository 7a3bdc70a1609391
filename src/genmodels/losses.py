r"""Losses as small pure functions of tensors: per-example values, the caller averages.

All values are in nats. For images, "per image" means summed over the 784 pixels.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

__all__ = [
    "kl_std_normal",
    "bernoulli_log_likelihood",
    "negative_elbo",
    "vae_loss",
    "gaussian_log_likelihood",
    "cvae_loss",
    "sliced_wasserstein",
    "GAN_LOSSES",
    "discriminator_loss",
    "generator_loss",
    "r1_penalty",
    "gradient_penalty",
]


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


def vae_loss(
    model: torch.nn.Module, x: torch.Tensor, *_: torch.Tensor, beta: float = 1.0
) -> dict[str, torch.Tensor]:
    """Mean negative ELBO in nats per image, for :func:`genmodels.training.fit` (labels ignored).

    ``beta`` weighs the KL term (the beta-VAE of chapter 3; 1 is the true ELBO). The logged ``kl`` and
    ``reconstruction`` are unweighted, so ``kl + reconstruction`` is always the -ELBO.
    """
    logits, mu, logvar = model(x)
    kl = kl_std_normal(mu, logvar)
    rec = -bernoulli_log_likelihood(logits, x)
    return {"loss": (beta * kl + rec).mean(), "kl": kl.mean(), "reconstruction": rec.mean()}


def gaussian_log_likelihood(
    x_hat: torch.Tensor, x: torch.Tensor, logvar: torch.Tensor | float = 0.0
) -> torch.Tensor:
    r"""log N(x; x_hat, sigma^2 I) summed over pixels, (B, ...) -> (B,); ``logvar`` = log sigma^2 (chapter 3).

    = -1/2 * sum_i [ (x_i - x_hat_i)^2 / sigma^2 + log sigma^2 + log(2 pi) ].
    With a fixed sigma this is -||x - x_hat||^2 / (2 sigma^2) + a constant: the squared error, scaled.
    ``logvar`` is a number or a tensor that broadcasts against ``x`` (one variance per pixel, say).
    """
    x = x.reshape(len(x), -1)
    x_hat = x_hat.reshape(len(x), -1)
    logvar = torch.as_tensor(logvar, dtype=x.dtype, device=x.device).expand_as(x)
    return -0.5 * ((x - x_hat).pow(2) / logvar.exp() + logvar + math.log(2 * math.pi)).sum(dim=1)


def cvae_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, beta: float = 1.0) -> dict[str, torch.Tensor]:
    """Mean negative conditional ELBO of a CVAE ``model(x, y)`` -> (logits, mu, logvar), nats per image."""
    logits, mu, logvar = model(x, y)
    kl = kl_std_normal(mu, logvar)
    rec = -bernoulli_log_likelihood(logits, x)
    return {"loss": (beta * kl + rec).mean(), "kl": kl.mean(), "reconstruction": rec.mean()}



def sliced_wasserstein(
    x: torch.Tensor, y: torch.Tensor, num_projections: int = 64, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""Squared sliced Wasserstein-2 distance between two samples (N, D) of equal size: a scalar (chapter 2).

    SW^2 = E_theta[ W_2^2(theta^T x, theta^T y) ], theta uniform on the unit sphere. In 1-D the best coupling
    of two samples pairs them in sorted order, W_2^2 = 1/N sum_i (x_(i) - y_(i))^2; for D = 1 this is exact.
    Differentiable in ``x`` and ``y``: a loss that moves samples onto data without any density.
    """
    if x.shape != y.shape or x.dim() != 2:
        raise ValueError(f"need two samples of the same shape (N, D), got {tuple(x.shape)} and {tuple(y.shape)}")
    theta = torch.randn(x.shape[1], num_projections, generator=generator).to(x)
    theta = theta / theta.norm(dim=0, keepdim=True)  # (D, P) unit directions
    x_proj = (x @ theta).sort(dim=0).values  # (N, P), each column sorted
    y_proj = (y @ theta).sort(dim=0).values
    return (x_proj - y_proj).pow(2).mean()


# ------------------------------------------------------------------------------ GANs (chapters 4-5)
GAN_LOSSES = ("minimax", "non-saturating", "wasserstein", "hinge")


def _check_gan_loss(kind: str) -> None:
    if kind not in GAN_LOSSES:
        raise ValueError(f"unknown GAN loss kind {kind!r}; choose one of: {', '.join(GAN_LOSSES)}")


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str = "minimax") -> torch.Tensor:
    r"""What D minimizes, per pair of examples: (B,) and (B,) logits -> (B,). D(x) = sigmoid(logit).

    * ``minimax`` and ``non-saturating`` (chapter 4; the two differ only for G): the binary cross-entropy
      -log D(x) - log(1 - D(G(z))) = softplus(-l_real) + softplus(l_fake), i.e. D *maximizes*
      log D(x) + log(1 - D(G(z))), the notes' formula.
    * ``wasserstein`` (WGAN critic, chapter 5): l_fake - l_real.
    * ``hinge`` (chapter 5): relu(1 - l_real) + relu(1 + l_fake).
    """
    _check_gan_loss(kind)
    if kind in ("minimax", "non-saturating"):
        return F.softplus(-real_logits) + F.softplus(fake_logits)
    if kind == "wasserstein":
        return fake_logits - real_logits
    return F.relu(1 - real_logits) + F.relu(1 + fake_logits)


def generator_loss(fake_logits: torch.Tensor, kind: str = "non-saturating") -> torch.Tensor:
    r"""What G minimizes, per generated example: (B,) logits of D on G(z) -> (B,).

    * ``minimax``: log(1 - D(G(z))) = -softplus(l); its gradient vanishes when D(G(z)) -> 0 (chapter 4).
    * ``non-saturating``: -log D(G(z)) = softplus(-l); the same fixed point, strong gradients early on.
    * ``wasserstein`` and ``hinge``: -l.
    """
    _check_gan_loss(kind)
    if kind == "minimax":
        return -F.softplus(fake_logits)
    if kind == "non-saturating":
        return F.softplus(-fake_logits)
    return -fake_logits


def _input_gradient(discriminator: torch.nn.Module, x: torch.Tensor, *cond: torch.Tensor) -> torch.Tensor:
    """d l(x) / d x for every example, kept in the graph so a penalty on it trains D: (B, ...)."""
    x = x.detach().requires_grad_(True)
    logits = discriminator(x, *cond)
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    return grad


def r1_penalty(discriminator: torch.nn.Module, x_real: torch.Tensor, *cond: torch.Tensor) -> torch.Tensor:
    r"""R1 (Mescheder et al., 2018): ||grad_x l(x)||^2 at real data, per example (B,) (chapter 5).

    D minimizes ``discriminator_loss + gamma / 2 * r1_penalty``: a D that is flat on the data cannot push G
    past the equilibrium, and the game converges locally. ``cond`` are extra inputs of D (labels).
    """
    grad = _input_gradient(discriminator, x_real, *cond)
    return grad.reshape(len(grad), -1).pow(2).sum(dim=1)


def gradient_penalty(
    discriminator: torch.nn.Module,
    x_real: torch.Tensor,
    x_fake: torch.Tensor,
    *cond: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""WGAN-GP (Gulrajani et al., 2017): (||grad l(x_mix)|| - 1)^2 per example (B,) (chapter 5).

    x_mix = eps * x_real + (1 - eps) * x_fake with eps ~ U(0, 1) per example, drawn on the CPU.
    """
    eps = torch.rand(len(x_real), *([1] * (x_real.dim() - 1)), generator=generator).to(x_real)
    x_mix = eps * x_real.detach() + (1 - eps) * x_fake.detach()
    grad = _input_gradient(discriminator, x_mix, *cond)
    return (grad.reshape(len(grad), -1).norm(dim=1) - 1).pow(2)
