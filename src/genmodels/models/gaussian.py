r"""The generative model of chapter 1: one Gaussian per class, p(x | y), with a low-rank covariance.

Each class is probabilistic PCA (Tipping & Bishop, 1999), a latent-variable model in its own right:

    z ~ N(0, I_k),    x | z, y ~ N(mu_y + W_y z, sigma_y^2 I_D)   =>   p(x | y) = N(mu_y, W_y W_y^T + sigma_y^2 I)

fitted in closed form from the eigen-decomposition of each class's covariance S_y = U diag(lambda) U^T:
sigma_y^2 = mean of the D - k smallest eigenvalues, W_y = U_k (diag(lambda_k) - sigma_y^2 I)^{1/2}.
With a prior p(y) it is also a classifier, by Bayes' rule: p(y | x) is proportional to p(x | y) p(y).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import Config

__all__ = ["GaussianConfig", "ClassConditionalGaussian"]


@dataclass
class GaussianConfig(Config):
    data_dim: int = 784
    latent_dim: int = 16
    num_classes: int = 10
    min_variance: float = 1e-4  # floor on sigma^2: a pixel that never changes must not get zero variance


class ClassConditionalGaussian(nn.Module):
    """Per-class probabilistic PCA. Buffers: ``mu`` (C, D), ``W`` (C, D, k), ``sigma2`` (C,), ``log_prior`` (C,)."""

    def __init__(self, config: GaussianConfig | None = None):
        super().__init__()
        self.config = c = config or GaussianConfig()
        if not 1 <= c.latent_dim < c.data_dim:
            raise ValueError(f"latent_dim must be between 1 and data_dim - 1 = {c.data_dim - 1}, got {c.latent_dim}")
        self.register_buffer("mu", torch.zeros(c.num_classes, c.data_dim))
        self.register_buffer("W", torch.zeros(c.num_classes, c.data_dim, c.latent_dim))
        self.register_buffer("sigma2", torch.ones(c.num_classes))
        self.register_buffer("log_prior", torch.full((c.num_classes,), -torch.log(torch.tensor(float(c.num_classes)))))

    @torch.no_grad()
    def fit(self, x: torch.Tensor, y: torch.Tensor | None = None) -> ClassConditionalGaussian:
        """Maximum-likelihood fit on data ``x`` (N, ...) with labels ``y`` (N,), or one class if ``y`` is None."""
        c = self.config
        x = x.reshape(len(x), -1).to(self.mu)  # (N, D)
        y = torch.zeros(len(x), dtype=torch.long, device=x.device) if y is None else y.to(x.device)
        if x.shape[1] != c.data_dim:
            raise ValueError(f"data has {x.shape[1]} dimensions, the model expects data_dim={c.data_dim}")
        counts = torch.bincount(y, minlength=c.num_classes)
        if len(counts) > c.num_classes or (counts < 2).any():
            raise ValueError(f"every class 0..{c.num_classes - 1} needs at least 2 examples, got counts {counts.tolist()}")
        for k in range(c.num_classes):
            xk = x[y == k].double()
            mu = xk.mean(0)
            cov = (xk - mu).T @ (xk - mu) / len(xk)  # (D, D) maximum-likelihood covariance
            eigvals, eigvecs = torch.linalg.eigh(cov)  # ascending order
            eigvals, eigvecs = eigvals.flip(0).clamp_min(0), eigvecs.flip(1)  # descending
            sigma2 = eigvals[c.latent_dim :].mean().clamp_min(c.min_variance)
            scale = (eigvals[: c.latent_dim] - sigma2).clamp_min(0).sqrt()
            self.mu[k] = mu.to(self.mu)
            self.W[k] = (eigvecs[:, : c.latent_dim] * scale).to(self.W)  # (D, k)
            self.sigma2[k] = sigma2.to(self.sigma2)
        self.log_prior.copy_(torch.log(counts.to(self.log_prior) / counts.sum()))
        return self

    def distribution(self, y: torch.Tensor | int) -> torch.distributions.LowRankMultivariateNormal:
        """p(x | y) = N(mu_y, W_y W_y^T + sigma_y^2 I) for a label or a batch of labels."""
        y = torch.as_tensor(y, device=self.mu.device)
        cov_diag = self.sigma2[y].unsqueeze(-1).expand(*y.shape, self.config.data_dim)
        return torch.distributions.LowRankMultivariateNormal(self.mu[y], self.W[y], cov_diag)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x | y) for every class: (N, C), in nats."""
        x = x.reshape(len(x), 1, -1)  # (N, 1, D) broadcasts against the C class distributions
        return self.distribution(torch.arange(self.config.num_classes, device=self.mu.device)).log_prob(x)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """log p(y | x) (N, C) by Bayes' rule: log p(x | y) + log p(y), normalized over y."""
        return torch.log_softmax(self.log_prob(x) + self.log_prior, dim=1)

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The mean of p(x | z, y): mu_y + W_y z, for z (N, k) and labels y (N,) -> (N, D)."""
        return self.mu[y] + torch.einsum("ndk,nk->nd", self.W[y], z)

    def sample(
        self, y: torch.Tensor, *, pixel_noise: bool = False, rng: torch.Generator | None = None
    ) -> torch.Tensor:
        """One sample per label in ``y`` (N,): draw z ~ N(0, I), decode; add sigma * eps if ``pixel_noise``."""
        y = torch.as_tensor(y, device=self.mu.device)
        z = torch.randn(len(y), self.config.latent_dim, generator=rng).to(self.mu)
        x = self.decode(z, y)
        if pixel_noise:
            eps = torch.randn(x.shape, generator=rng).to(x)
            x = x + self.sigma2[y].sqrt().unsqueeze(1) * eps
        return x
