r"""The MLP variational autoencoder of pytorch/examples (784-400-20), the reference of the benchmarks.

encoder: x -> h = ReLU(W1 x) -> (mu, logvar);   z = mu + exp(logvar / 2) * eps;   decoder: z -> logits of p(x | z)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["VAEConfig", "MLPVAE", "reparameterize"]


@dataclass
class VAEConfig:
    data_dim: int = 784
    hidden_dim: int = 400
    latent_dim: int = 20


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """z = mu + sigma * eps with eps ~ N(0, I): a sample whose gradient flows to mu and logvar."""
    eps = torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * eps


class MLPVAE(nn.Module):
    """Bernoulli-likelihood VAE on flattened images; ``forward(x)`` -> (logits, mu, logvar)."""

    def __init__(self, config: VAEConfig | None = None):
        super().__init__()
        self.config = c = config or VAEConfig()
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(c.data_dim, c.hidden_dim), nn.ReLU())
        self.to_mu = nn.Linear(c.hidden_dim, c.latent_dim)
        self.to_logvar = nn.Linear(c.hidden_dim, c.latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(c.latent_dim, c.hidden_dim), nn.ReLU(), nn.Linear(c.hidden_dim, c.data_dim)
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z | x) = N(mu, diag(exp(logvar))): (B, latent_dim) each."""
        h = self.encoder(x)
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Logits of the Bernoulli p(x | z), (B, data_dim); ``sigmoid`` gives pixel means."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar)), mu, logvar

    @torch.no_grad()
    def sample(self, num_samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Pixel means sigmoid(decoder(z)) for z ~ N(0, I): (num_samples, data_dim) in [0, 1]."""
        device = next(self.parameters()).device
        z = torch.randn(num_samples, self.config.latent_dim, generator=generator).to(device)
        return torch.sigmoid(self.decode(z))
