r"""Forecasters of chapter 7: a conditional VAE over futures, and the deterministic network it is compared with.

Both read the observed past (N, num_past, 2) and predict the future (N, num_future, 2), in metres. Inside, the
networks see positions divided by ``scale`` and predict the future as offsets from the last observed position.

:class:`TrajectoryCVAE`, the CVAE of chapter 3 with the label replaced by the past:

    past encoder:  past -> h                                     (what both networks know)
    encoder:       (h, future) -> (mu, logvar) of q(z | past, future)
    prior:         p(z) = N(0, I), or with ``learned_prior`` a prior network p(z | past) = N(mu_p(h), diag(var_p(h)))
                   (Sohn et al., 2015)
    decoder:       (h, z) -> mean of p(future | past, z) = N(mean, sigma^2 I), sigma fixed (config, metres)

    -ELBO = KL(q(z | past, future) || p(z | past)) - E_q[log p(future | past, z)]

:class:`TrajectoryRegressor`: past -> one future, trained with the squared error. It predicts the conditional
mean E[future | past]: with three possible futures, a path between them.

:class:`TrajectoryMultiHead`: past -> K futures, trained winner-takes-all (multiple-choice learning, Guzman-Rivera
et al., 2012; Lee et al., 2016): only the head closest to the true future is penalized, so the heads spread over
the possible futures, but nothing in the loss says how likely each one is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.distributions import Normal, kl_divergence

from .config import Config
from ..losses import gaussian_log_likelihood, kl_std_normal
from .layers import mlp
from .vae import reparameterize

__all__ = [
    "TrajectoryCVAEConfig",
    "TrajectoryCVAE",
    "TrajectoryRegressor",
    "TrajectoryMultiHead",
    "trajectory_cvae_loss",
    "trajectory_mse_loss",
    "trajectory_wta_loss",
]


@dataclass
class TrajectoryCVAEConfig(Config):
    num_past: int = 8
    num_future: int = 12
    hidden_dim: int = 128
    latent_dim: int = 2  # two numbers: enough to pick a branch and a pace, and a plane we can draw
    scale: float = 10.0  # metres per network unit
    sigma: float = 3.0  # metres: spread of p(future | past, z) around the decoded mean (chapter 7 chooses it)
    learned_prior: bool = False  # True: a prior network p(z | past); False: p(z) = N(0, I)
    num_heads: int = 20  # futures proposed by TrajectoryMultiHead


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
    """Conditional VAE p(future | past) = E_{z ~ p(z | past)} p(future | past, z); ``forward`` -> (mean, mu, logvar)."""

    def __init__(self, config: TrajectoryCVAEConfig | None = None):
        super().__init__(config or TrajectoryCVAEConfig())
        c = self.config
        self.encoder = mlp([c.hidden_dim + 2 * c.num_future, c.hidden_dim, 2 * c.latent_dim])
        self.decoder = mlp([c.hidden_dim + c.latent_dim, c.hidden_dim, c.hidden_dim, 2 * c.num_future])
        self.prior_net = mlp([c.hidden_dim, c.hidden_dim, 2 * c.latent_dim]) if c.learned_prior else None

    def prior(self, past: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """p(z | past) = N(mu_p, diag(exp(logvar_p))): (N, latent_dim) each; zeros for the fixed N(0, I) prior."""
        if self.prior_net is None:
            self._check(past)
            zeros = past.new_zeros(len(past), self.config.latent_dim)
            return zeros, zeros
        mu, logvar = self.prior_net(self.encode_past(past)).chunk(2, dim=1)
        return mu, logvar

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
        """``num_samples`` futures per agent, decoder means for z ~ p(z | past): (N, num_samples, T, 2), metres.

        Decoder *means*: the N(0, sigma^2 I) noise of p(future | past, z) is not added.
        """
        if num_samples < 1:
            raise ValueError(f"num_samples must be at least 1, got {num_samples}")
        mu, logvar = self.prior(past)
        eps = torch.randn(num_samples, len(past), self.config.latent_dim, generator=rng).to(past.device)
        return self.decode(past, mu + (0.5 * logvar).exp() * eps).transpose(0, 1)  # (K, N, T, 2) -> (N, K, T, 2)


class TrajectoryRegressor(_Forecaster):
    """Deterministic forecaster past -> future (N, T, 2), metres; trained on squared error it predicts E[future | past]."""

    def __init__(self, config: TrajectoryCVAEConfig | None = None):
        super().__init__(config or TrajectoryCVAEConfig())
        c = self.config
        self.head = mlp([c.hidden_dim, c.hidden_dim, 2 * c.num_future])

    def forward(self, past: torch.Tensor) -> torch.Tensor:
        return self.to_positions(past, self.head(self.encode_past(past)))


class TrajectoryMultiHead(_Forecaster):
    """K forecasts per agent from one network, past -> (N, K, T, 2) metres; train with :func:`trajectory_wta_loss`."""

    def __init__(self, config: TrajectoryCVAEConfig | None = None):
        super().__init__(config or TrajectoryCVAEConfig())
        c = self.config
        self.head = mlp([c.hidden_dim, c.hidden_dim, 2 * c.num_future * c.num_heads])

    def forward(self, past: torch.Tensor) -> torch.Tensor:
        offsets = self.head(self.encode_past(past)).unflatten(1, (self.config.num_heads, -1))  # (N, K, 2T)
        return self.to_positions(past, offsets.transpose(0, 1)).transpose(0, 1)  # (N, K, T, 2)


def trajectory_wta_loss(model: TrajectoryMultiHead, past: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
    """Winner-takes-all: squared error of the closest of the K forecasts, per coordinate, network units squared."""
    target = model.to_offsets(past, future)[:, None]  # (N, 1, 2T)
    heads = ((model(past) - past[:, None, -1:]) / model.config.scale).flatten(2)  # (N, K, 2T)
    return (heads - target).pow(2).mean(dim=2).min(dim=1).values.mean()


def trajectory_cvae_loss(
    model: TrajectoryCVAE, past: torch.Tensor, future: torch.Tensor, beta: float = 1.0
) -> dict[str, torch.Tensor]:
    r"""Mean negative ELBO per agent (nats, positions in network units), for :func:`genmodels.training.fit`.

    -ELBO = beta * KL(q(z | past, future) || p(z | past)) - log N(future; decoder(past, z), sigma^2 I),
    one z ~ q per agent. With sigma fixed the reconstruction term is the squared error / (2 sigma^2) plus a
    constant: sigma says how close to the truth a decoded future must be to count as an explanation.
    The logged ``kl`` and ``reconstruction`` are unweighted.
    """
    mean, mu, logvar = model(past, future)
    logvar_x = 2 * math.log(model.config.sigma / model.config.scale)  # log sigma^2 in network units
    rec = -gaussian_log_likelihood(model.to_offsets(past, mean), model.to_offsets(past, future), logvar_x)
    if model.prior_net is None:
        kl = kl_std_normal(mu, logvar)
    else:
        prior_mu, prior_logvar = model.prior(past)
        q, p = Normal(mu, (0.5 * logvar).exp()), Normal(prior_mu, (0.5 * prior_logvar).exp())
        kl = kl_divergence(q, p).sum(dim=1)
    return {"loss": (beta * kl + rec).mean(), "kl": kl.mean(), "reconstruction": rec.mean()}


def trajectory_mse_loss(model: TrajectoryRegressor, past: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
    """Mean squared error per coordinate, in network units (metres / scale) squared."""
    return (model.to_offsets(past, model(past)) - model.to_offsets(past, future)).pow(2).mean()
