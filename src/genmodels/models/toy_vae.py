r"""A VAE for points (chapter 12's trilemma table): the VAE row on the ring and the grid of Gaussians.

Chapter 3's VAEs have Bernoulli decoders for pixels; points in the plane need a density on R^d. Here
p(x | z) = N(x; f(z), sigma^2 I) with ``sigma`` learned (one per coordinate, shared by all z), so the -ELBO
(:func:`genmodels.losses.gaussian_vae_loss`) is a bound on a true -log p(x), in nats, and the model chooses
how much of the data it explains with the decoder's noise. Its samples are real draws ``f(z) + sigma eps``;
``sample(..., noise=False)`` gives the decoder means instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .config import Config
from .layers import mlp
from .vae import reparameterize

__all__ = ["ToyVAEConfig", "ToyVAE"]


@dataclass
class ToyVAEConfig(Config):
    data_dim: int = 2
    latent_dim: int = 2
    hidden_dim: int = 128
    num_layers: int = 3
    init_sigma: float = 1.0  # the decoder's sigma before training (it is learned from there)


class ToyVAE(nn.Module):
    """Gaussian encoder q(z | x) and Gaussian decoder N(f(z), sigma^2 I) with a learned ``log_sigma``."""

    def __init__(self, config: ToyVAEConfig | None = None):
        super().__init__()
        self.config = c = config or ToyVAEConfig()
        if not c.init_sigma > 0:
            raise ValueError(f"ToyVAEConfig.init_sigma must be positive (the decoder's starting sigma), got {c.init_sigma!r}")
        hidden = [c.hidden_dim] * c.num_layers
        self.encoder = mlp([c.data_dim, *hidden, 2 * c.latent_dim], nn.SiLU)
        self.decoder = mlp([c.latent_dim, *hidden, c.data_dim], nn.SiLU)
        self.log_sigma = nn.Parameter(torch.full((c.data_dim,), math.log(c.init_sigma)))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The mean f(z) of p(x | z)."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(decoder mean at one z ~ q(z | x), mu, logvar)."""
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar)), mu, logvar

    @torch.no_grad()
    def sample(self, num_samples: int, rng: torch.Generator | None = None, noise: bool = True) -> torch.Tensor:
        """Draws x = f(z) + sigma eps with z, eps ~ N(0, I) (``noise=False``: the means f(z))."""
        device = self.log_sigma.device
        z = torch.randn(num_samples, self.config.latent_dim, generator=rng).to(device)
        mean = self.decode(z)
        if not noise:
            return mean
        eps = torch.randn(mean.shape, generator=rng).to(device)
        return mean + self.log_sigma.exp() * eps
