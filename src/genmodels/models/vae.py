r"""Autoencoders and variational autoencoders of chapter 3.

* :class:`MLPVAE`: the MLP VAE of pytorch/examples (784-400-20), the reference of the benchmarks.
* :class:`ConvVAE`: a small convolutional VAE, the chapter's VAE (lower test -ELBO for the same wall-clock).
* :class:`Autoencoder`: the deterministic MLP autoencoder the VAE starts from (codes, no distribution).

VAE:  encoder: x -> (mu, logvar);   z = mu + exp(logvar / 2) * eps;   decoder: z -> logits of p(x | z)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import Config

__all__ = ["BernoulliVAE", "VAEConfig", "MLPVAE", "reparameterize", "ConvVAEConfig", "ConvVAE", "Autoencoder"]


@dataclass
class VAEConfig(Config):
    data_dim: int = 784
    hidden_dim: int = 400
    latent_dim: int = 20


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """z = mu + sigma * eps with eps ~ N(0, I): a sample whose gradient flows to mu and logvar."""
    eps = torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * eps


class BernoulliVAE(nn.Module):
    """What every VAE of chapter 3 shares: subclasses define ``encode(x, *cond) -> (mu, logvar)`` and
    ``decode(z, *cond)`` (Bernoulli logits, (B, pixels)) and have a ``config.latent_dim``.

    ``cond`` is what a conditional VAE is given besides x (the label y of :class:`ConditionalVAE`); nothing for
    a plain VAE. ``forward(x, *cond)`` -> (logits, mu, logvar), one z ~ q(z | x, cond) per example.
    """

    def forward(self, x: torch.Tensor, *cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x, *cond)
        return self.decode(reparameterize(mu, logvar), *cond), mu, logvar

    @torch.no_grad()
    def sample(self, num_samples: int, *cond: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        """Pixel means sigmoid(decoder(z, *cond)) for z ~ N(0, I): (num_samples, pixels) in [0, 1]."""
        device = next(self.parameters()).device
        z = torch.randn(num_samples, self.config.latent_dim, generator=rng).to(device)
        return torch.sigmoid(self.decode(z, *(c.to(device) for c in cond)))


class MLPVAE(BernoulliVAE):
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


@dataclass
class ConvVAEConfig(Config):
    latent_dim: int = 20
    channels: tuple[int, int] = (16, 32)


class ConvVAE(BernoulliVAE):
    """Convolutional Bernoulli VAE on (B, 1, 28, 28) images; ``forward(x)`` -> (logits (B, 784), mu, logvar).

    Two stride-2 convolutions down (28 -> 14 -> 7), two transposed convolutions up: the decoder knows that
    neighbouring pixels go together, which an MLP has to learn from 4,500 digits (chapter 3).
    """

    def __init__(self, config: ConvVAEConfig | None = None):
        super().__init__()
        self.config = c = config or ConvVAEConfig()
        c1, c2 = c.channels
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, 4, stride=2, padding=1), nn.ReLU(),   # (B, c1, 14, 14)
            nn.Conv2d(c1, c2, 4, stride=2, padding=1), nn.ReLU(),  # (B, c2, 7, 7)
            nn.Flatten(),                                          # (B, c2 * 49)
            nn.Linear(c2 * 49, 2 * c.latent_dim),                  # (B, 2k): mu and logvar
        )
        self.decoder_input = nn.Linear(c.latent_dim, c2 * 49)
        self.decoder = nn.Sequential(
            nn.ReLU(),
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.ReLU(),  # (B, c1, 14, 14)
            nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1),              # (B, 1, 28, 28) logits
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z | x) = N(mu, diag(exp(logvar))) for images (B, 1, 28, 28) or (B, 784): (B, latent_dim) each."""
        mu, logvar = self.encoder(x.reshape(len(x), 1, 28, 28)).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Logits of the Bernoulli p(x | z), flattened to (B, 784) like :class:`MLPVAE`'s."""
        h = self.decoder_input(z).reshape(len(z), self.config.channels[1], 7, 7)  # (B, c2, 7, 7)
        return self.decoder(h).flatten(1)



class Autoencoder(nn.Module):
    """Deterministic MLP autoencoder x -> z -> logits, sized by a :class:`VAEConfig` (chapter 3).

    Trained on reconstruction alone, -log p(x | z = encode(x)): it learns codes, not a distribution of
    codes, so nothing says what a code it never produced decodes to (the holes of chapter 3).
    """

    def __init__(self, config: VAEConfig | None = None):
        super().__init__()
        self.config = c = config or VAEConfig()
        self.encoder = nn.Sequential(
            nn.Flatten(), nn.Linear(c.data_dim, c.hidden_dim), nn.ReLU(), nn.Linear(c.hidden_dim, c.latent_dim)
        )
        self.decoder = nn.Sequential(
            nn.Linear(c.latent_dim, c.hidden_dim), nn.ReLU(), nn.Linear(c.hidden_dim, c.data_dim)
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code z of each image: (B, latent_dim)."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Logits of the pixels, (B, data_dim); ``sigmoid`` gives the reconstruction."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))
