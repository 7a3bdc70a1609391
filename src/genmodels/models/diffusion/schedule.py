"""The noise schedule of DDPM (chapter 12): betas, alphas and their cumulative products."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

__all__ = ["NoiseSchedule"]

Denoiser = Callable[..., torch.Tensor]  # model(x, t, y=None) -> (B, ...) like x


# ------------------------------------------------------------------------------------------ schedule
class NoiseSchedule:
    r"""The forward process q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I), t = 1..T (chapter 12).

    ``kind="cosine"`` (Nichol & Dhariwal 2021): abar_t = cos^2(pi/2 (t/T + s) / (1 + s)) / (same at 0), betas
    clipped at 0.999; ``kind="linear"``: betas from 1e-4 to 0.02 (Ho et al. 2020). Index 0 holds abar_0 = 1.
    """

    def __init__(self, num_steps: int = 1000, kind: str = "cosine", s: float = 0.008):
        if kind == "cosine":
            u = torch.linspace(0, 1, num_steps + 1, dtype=torch.float64)
            f = torch.cos((u + s) / (1 + s) * math.pi / 2) ** 2
            betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
        elif kind == "linear":
            betas = torch.linspace(1e-4, 0.02, num_steps, dtype=torch.float64) * (1000 / num_steps)
        else:
            raise ValueError(f"unknown schedule kind {kind!r}; use 'cosine' or 'linear'")
        self.num_steps, self.kind = num_steps, kind
        self.betas = torch.cat([torch.zeros(1, dtype=torch.float64), betas])  # (T + 1,), beta_0 = 0
        self.alphas = 1 - self.betas
        self.alpha_bars = torch.cumprod(self.alphas, 0)  # (T + 1,), abar_0 = 1

    def _at(self, values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """values[t] shaped (B, 1, ...) to broadcast against ``like``, in its dtype and on its device."""
        out = values.to(like.device)[t.to(like.device)].to(like.dtype)
        return out.reshape(-1, *([1] * (like.dim() - 1)))

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        r"""x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps: the closed-form marginal q(x_t | x_0)."""
        abar = self._at(self.alpha_bars, t, x0)
        return abar.sqrt() * x0 + (1 - abar).sqrt() * eps

    def posterior(self, x0: torch.Tensor, xt: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Mean and variance of q(x_{t-1} | x_t, x_0) (t >= 1): the "encoder" DDPM's ELBO compares with.

        mu~ = sqrt(abar_{t-1}) beta_t / (1 - abar_t) x_0 + sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t) x_t,
        beta~ = (1 - abar_{t-1}) / (1 - abar_t) beta_t.
        """
        abar, abar_prev = self._at(self.alpha_bars, t, x0), self._at(self.alpha_bars, t - 1, x0)
        beta, alpha = self._at(self.betas, t, x0), self._at(self.alphas, t, x0)
        mean = abar_prev.sqrt() * beta / (1 - abar) * x0 + alpha.sqrt() * (1 - abar_prev) / (1 - abar) * xt
        return mean, (1 - abar_prev) / (1 - abar) * beta

    def predict_x0(self, xt: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """x_0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t): the forward marginal solved for x_0."""
        abar = self._at(self.alpha_bars, t, xt)
        return (xt - (1 - abar).sqrt() * eps) / abar.sqrt()

    def time(self, t: torch.Tensor) -> torch.Tensor:
        """The network's input time t / T in [0, 1], float."""
        return t.float() / self.num_steps
