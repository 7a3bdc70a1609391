r"""The conditional VAE of chapter 3: "generate an input from a label", with the latent as style.

Both networks see the label as a one-hot vector concatenated to their input:

    encoder: (x, y) -> (mu, logvar) of q(z | x, y);    decoder: (z, y) -> logits of p(x | z, y);    prior p(z) = N(0, I)

The ELBO is the VAE's with every distribution conditioned on y:
log p(x | y) >= E_q[log p(x | z, y)] - KL(q(z | x, y) || p(z)). Because the label is given, z only has to
carry what the label does not say: slant, thickness, width, the *style*.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .config import Config
from .vae import BernoulliVAE

__all__ = ["CVAEConfig", "ConditionalVAE"]


@dataclass
class CVAEConfig(Config):
    data_dim: int = 784
    num_classes: int = 10
    hidden_dim: int = 512
    latent_dim: int = 2  # 2 style numbers: samples from the prior stay recognisable, and a slider each


class ConditionalVAE(BernoulliVAE):
    """MLP CVAE with a Bernoulli decoder; ``forward(x, y)`` -> (logits, mu, logvar) (from :class:`BernoulliVAE`)."""

    def __init__(self, config: CVAEConfig | None = None):
        super().__init__()
        self.config = c = config or CVAEConfig()
        self.encoder = nn.Sequential(
            nn.Linear(c.data_dim + c.num_classes, c.hidden_dim), nn.ReLU(),
            nn.Linear(c.hidden_dim, c.hidden_dim // 2), nn.ReLU(),
            nn.Linear(c.hidden_dim // 2, 2 * c.latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(c.latent_dim + c.num_classes, c.hidden_dim // 2), nn.ReLU(),
            nn.Linear(c.hidden_dim // 2, c.hidden_dim), nn.ReLU(),
            nn.Linear(c.hidden_dim, c.data_dim),
        )

    def one_hot(self, y: torch.Tensor) -> torch.Tensor:
        """Labels (B,) -> one-hot float vectors (B, num_classes)."""
        return F.one_hot(y.long(), self.config.num_classes).float()

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z | x, y) = N(mu, diag(exp(logvar))): (B, latent_dim) each."""
        h = torch.cat([x.reshape(len(x), -1), self.one_hot(y)], dim=1)  # (B, data_dim + num_classes)
        mu, logvar = self.encoder(h).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Logits of the Bernoulli p(x | z, y), (B, data_dim)."""
        return self.decoder(torch.cat([z, self.one_hot(y)], dim=1))  # (B, latent_dim + num_classes) in

    @torch.no_grad()
    def sample(self, labels: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        """One digit per requested label (N,): pixel means sigmoid(decoder(z, y)), z ~ N(0, I); (N, data_dim)."""
        return super().sample(len(labels), labels, rng=rng)
