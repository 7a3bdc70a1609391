r"""Forecasters of chapter 7: a conditional VAE over futures, and the deterministic network it is compared with.

Both read the observed past (N, num_past, 2) and predict the future (N, num_future, 2), in metres. Inside, the
networks see positions divided by ``scale`` and predict the future as offsets from the last observed position.

:class:`TrajectoryCVAE`, the CVAE of chapter 3 with the label replaced by the past:

    past encoder:  past -> h                                     (what both networks know)
    encoder:       (h, future) -> (mu, logvar) of q(z | past, future)
    prior:         p(z) = N(0, I)
    decoder:       (h, z) -> mean of p(future | past, z) = N(mean, sigma^2 I), sigma fixed (config, metres)

    -ELBO = KL(q(z | past, future) || p(z)) - E_q[log p(future | past, z)]

:class:`TrajectoryRegressor`: past -> one future, trained with the squared error. It predicts the conditional
mean E[future | past]: with three possible futures, a path between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .config import Config
from ..losses import gaussian_log_likelihood, kl_std_normal
from .layers import mlp
from .vae import reparameterize

__all__ = [
    "TrajectoryCVAEConfig",
    "TrajectoryCVAE",
    "TrajectoryRegressor",
    "trajectory_cvae_loss",
    "trajectory_mse_loss",
]


@dataclass
class TrajectoryCVAEConfig(Config):
    num_past: int = 8
    num_future: int = 12
    hidden_dim: int = 128
    latent_dim: int = 2  # two numbers: enough to pick a branch and a pace, and a plane we can draw
    scale: float = 10.0  # metres per network unit
    sigma: float = 3.0  # metres: spread of p(future | past, z) around the decoded mean (chapter 7 chooses it)


class _Forecaster(nn.Module):
    """What both forecasters share: the past encoder and the conversion between metres and network units."""

    def __init__(self, config: TrajectoryCVAEConfig):
        super().__init__()
        self.config = c = config
        self.past_encoder = nn.Sequential(mlp([2 * c.num_past, c.hidden_dim, c.hidden_dim]), nn.ReLU())

    def _check(self, past: torch.Tensor) -> None:
        if past.dim() != 3 or past.shape[1:] != (self.config.num_past, 2):
            raise ValueError(
                f"past must be (N, {self.config.num_past}, 2) positions in metres, got shape {tuple(past.shape)}"
            )

    def encode_past(self, past: torch.Tensor) -> torch.Tensor:
        """h = past_encoder(past / scale): (N, hidden_dim)."""
        self._check(past)
        return self.past_encoder(past.flatten(1) / self.config.scale)

    def to_offsets(self, past: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
        """Future positions (N, T, 2) in metres -> offsets from the last observed position, network units (N, 2T)."""
        return ((future - past[:, -1:]) / self.config.scale).flatten(1)

    def to_positions(self, past: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Network output (..., N, 2T) -> future positions in metres (..., N, T, 2)."""
        offsets = offsets.unflatten(-1, (self.config.num_future, 2))
        return past[:, -1:] + self.config.scale * offsets


class TrajectoryCVAE(_Forecaster):
    """Conditional VAE p(future | past) = E_{z ~ N(0, I)} p(future | past, z); ``forward`` -> (mean, mu, logvar)."""

    def __init__(self, config: TrajectoryCVAEConfig | None = None):
        super().__init__(config or TrajectoryCVAEConfig())
        c = self.config
        self.encoder = mlp([c.hidden_dim + 2 * c.num_future, c.hidden_dim, 2 * c.latent_dim])
        self.decoder = mlp([c.hidden_dim + c.latent_dim, c.hidden_dim, c.hidden_dim, 2 * c.num_future])

    def encode(self, past: torch.Tensor, future: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z | past, future) = N(mu, diag(exp(logvar))): (N, latent_dim) each."""
        h = torch.cat([self.encode_past(past), self.to_offsets(past, future)], dim=1)  # (N, hidden + 2T)
        mu, logvar = self.encoder(h).chunk(2, dim=1)
        return mu, logvar

    def decode(self, past: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Mean of p(future | past, z) in metres; z (N, latent_dim) -> (N, T, 2), or (K, N, latent_dim) -> (K, N, T, 2)."""
        h = self.encode_past(past).expand(*z.shape[:-1], -1)  # (..., N, hidden)
        return self.to_positions(past, self.decoder(torch.cat([h, z], dim=-1)))

    def forward(self, past: torch.Tensor, future: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(past, future)
        return self.decode(past, reparameterize(mu, logvar)), mu, logvar

    @torch.no_grad()
    def sample(self, past: torch.Tensor, num_samples: int, rng: torch.Generator | None = None) -> torch.Tensor:
        """``num_samples`` futures per agent, decoder means for z ~ N(0, I): (N, num_samples, T, 2), metres."""
        if num_samples < 1:
            raise ValueError(f"num_samples must be at least 1, got {num_samples}")
        self._check(past)
        z = torch.randn(num_samples, len(past), self.config.latent_dim, generator=rng).to(past.device)
        return self.decode(past, z).transpose(0, 1)  # (K, N, T, 2) -> (N, K, T, 2)


class TrajectoryRegressor(_Forecaster):
    """Deterministic forecaster past -> future (N, T, 2), metres; trained on squared error it predicts E[future | past]."""

    def __init__(self, config: TrajectoryCVAEConfig | None = None):
        super().__init__(config or TrajectoryCVAEConfig())
        c = self.config
        self.head = mlp([c.hidden_dim, c.hidden_dim, 2 * c.num_future])

    def forward(self, past: torch.Tensor) -> torch.Tensor:
        return self.to_positions(past, self.head(self.encode_past(past)))


def trajectory_cvae_loss(
    model: TrajectoryCVAE, past: torch.Tensor, future: torch.Tensor, beta: float = 1.0
) -> dict[str, torch.Tensor]:
    r"""Mean negative ELBO per agent (nats, positions in network units), for :func:`genmodels.training.fit`.

    -ELBO = beta * KL(q(z | past, future) || N(0, I)) - log N(future; decoder(past, z), sigma^2 I),
    one z ~ q per agent. With sigma fixed the reconstruction term is the squared error / (2 sigma^2) plus a
    constant: sigma says how close to the truth a decoded future must be to count as an explanation.
    The logged ``kl`` and ``reconstruction`` are unweighted.
    """
    mean, mu, logvar = model(past, future)
    logvar_x = 2 * math.log(model.config.sigma / model.config.scale)  # log sigma^2 in network units
    rec = -gaussian_log_likelihood(model.to_offsets(past, mean), model.to_offsets(past, future), logvar_x)
    kl = kl_std_normal(mu, logvar)
    return {"loss": (beta * kl + rec).mean(), "kl": kl.mean(), "reconstruction": rec.mean()}


def trajectory_mse_loss(model: TrajectoryRegressor, past: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
    """Mean squared error per coordinate, in network units (metres / scale) squared."""
    return (model.to_offsets(past, model(past)) - model.to_offsets(past, future)).pow(2).mean()
