"""Samplers of chapter 12: ancestral DDPM, deterministic DDIM, Euler steps of the flow, classifier-free guidance."""

from __future__ import annotations

import torch

from .schedule import Denoiser, NoiseSchedule

__all__ = ["guided", "ddpm_sample", "ddim_sample", "flow_times", "flow_sample"]


# ------------------------------------------------------------------------------------------ samplers
def guided(model: Denoiser, guidance: float, num_classes: int) -> Denoiser:
    r"""Classifier-free guidance: (1 + w) f(x, t, y) - w f(x, t, no label) (Ho & Salimans 2022); w = 0: plain f.

    Works for noise and velocity predictions alike (both are linear in the score).
    """
    if guidance == 0:
        return model

    def combined(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is None:
            return model(x, t, None)
        null = torch.full_like(y, num_classes)
        both = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, null]))  # one batch of 2B
        cond, uncond = both.chunk(2)
        return (1 + guidance) * cond - guidance * uncond

    return combined


def _timesteps(schedule: NoiseSchedule, num_steps: int) -> list[int]:
    """``num_steps`` evenly spaced DDPM steps from T down to 1, then 0."""
    ts = torch.linspace(schedule.num_steps, 0, num_steps + 1).round().long().tolist()
    return ts


@torch.no_grad()
def ddpm_sample(
    model: Denoiser, schedule: NoiseSchedule, shape: tuple[int, ...], y: torch.Tensor | None = None, *,
    rng: torch.Generator | None = None, device: torch.device | str = "cpu", return_path: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
    r"""Ancestral sampling (Ho et al. 2020): T steps x_{t-1} = mu_theta(x_t, t) + sigma_t z, sigma_t^2 = beta~_t.

    mu_theta is the posterior mean of :meth:`NoiseSchedule.posterior` at x_0 = predicted x_0 (clipped to
    nothing: the data may be any range). Returns x_0 (and every x_t when ``return_path``).
    """
    x = torch.randn(shape, generator=rng).to(device)
    y = None if y is None else y.to(device)
    path = [x.cpu()]
    for t_int in range(schedule.num_steps, 0, -1):
        t = torch.full((shape[0],), t_int, dtype=torch.long, device=device)
        eps_hat = model(x, schedule.time(t), y)
        mean, var = schedule.posterior(schedule.predict_x0(x, t, eps_hat), x, t)
        x = mean + var.sqrt() * torch.randn(shape, generator=rng).to(device) if t_int > 1 else mean
        if return_path:
            path.append(x.cpu())
    return (x, path) if return_path else x


@torch.no_grad()
def ddim_sample(
    model: Denoiser, schedule: NoiseSchedule, shape: tuple[int, ...], y: torch.Tensor | None = None, *,
    num_steps: int = 50, rng: torch.Generator | None = None, x_T: torch.Tensor | None = None,
    clip_x0: float | None = None, device: torch.device | str = "cpu", return_path: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
    r"""DDIM with eta = 0 (Song et al. 2021): x_s = sqrt(abar_s) x0_hat + sqrt(1 - abar_s) eps_hat, s < t.

    Deterministic given x_T (drawn from ``rng`` unless given): the probability-flow ODE's discretization.
    ``num_steps`` network evaluations. ``clip_x0``: clamp x0_hat to [-clip_x0, clip_x0] (images in [-1, 1]) and
    recompute eps_hat from it, as DDPM implementations do; near t = T, where abar_t ~ 0, x0_hat = (x_t - s eps_hat) /
    sqrt(abar_t) magnifies the network's errors enormously.
    """
    x = (torch.randn(shape, generator=rng) if x_T is None else x_T).to(device)
    y = None if y is None else y.to(device)
    path = [x.cpu()]
    ts = _timesteps(schedule, num_steps)
    for t_int, s_int in zip(ts[:-1], ts[1:]):
        t = torch.full((shape[0],), t_int, dtype=torch.long, device=device)
        eps_hat = model(x, schedule.time(t), y)
        x0_hat = schedule.predict_x0(x, t, eps_hat)
        if clip_x0 is not None:
            x0_hat = x0_hat.clamp(-clip_x0, clip_x0)
            abar_t = schedule._at(schedule.alpha_bars, t, x)
            eps_hat = (x - abar_t.sqrt() * x0_hat) / (1 - abar_t).sqrt()
        abar_s = schedule._at(schedule.alpha_bars, torch.full_like(t, s_int), x)
        x = abar_s.sqrt() * x0_hat + (1 - abar_s).sqrt() * eps_hat
        if return_path:
            path.append(x.cpu())
    return (x, path) if return_path else x


def flow_times(num_steps: int, time_power: float = 1.0) -> torch.Tensor:
    """Integration times 1 = t_0 > ... > t_N = 0, spaced as u^time_power (dense near the data when > 1)."""
    return torch.linspace(1, 0, num_steps + 1).pow(time_power)


@torch.no_grad()
def flow_sample(
    model: Denoiser, shape: tuple[int, ...], y: torch.Tensor | None = None, *, num_steps: int = 50,
    time_power: float = 1.0, rng: torch.Generator | None = None, x_T: torch.Tensor | None = None,
    device: torch.device | str = "cpu", return_path: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
    r"""Euler steps of dx/dt = v_theta(x, t) from t = 1 (noise) to t = 0 (data): ``num_steps`` evaluations."""
    x = (torch.randn(shape, generator=rng) if x_T is None else x_T).to(device)
    y = None if y is None else y.to(device)
    ts = flow_times(num_steps, time_power).tolist()
    path = [x.cpu()]
    for t, s in zip(ts[:-1], ts[1:]):
        v = model(x, torch.full((shape[0],), t, device=device), y)
        x = x + (s - t) * v
        if return_path:
            path.append(x.cpu())
    return (x, path) if return_path else x
