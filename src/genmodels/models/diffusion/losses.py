"""Training losses of chapter 12 (DDPM noise prediction, flow matching) and the ELBO pieces the chapter checks."""

from __future__ import annotations

import torch

from .schedule import Denoiser, NoiseSchedule

__all__ = ["ddpm_loss", "ddpm_elbo_weight", "gaussian_kl", "gaussian_optimal_eps", "flow_matching_loss"]


# ------------------------------------------------------------------------------------------ losses
def _drop_labels(y: torch.Tensor | None, p_uncond: float, num_classes: int, rng: torch.Generator | None):
    """Replace each label by the "no label" token with probability p_uncond (classifier-free guidance)."""
    if y is None or p_uncond <= 0:
        return y
    drop = torch.rand(len(y), generator=rng).to(y.device) < p_uncond
    return torch.where(drop, torch.full_like(y, num_classes), y)


def ddpm_loss(
    model: Denoiser, x0: torch.Tensor, schedule: NoiseSchedule, y: torch.Tensor | None = None, *,
    p_uncond: float = 0.0, num_classes: int = 10, rng: torch.Generator | None = None,
) -> torch.Tensor:
    r"""The simplified loss of Ho et al. (2020): E_{t ~ U{1..T}, eps} ||eps - eps_theta(x_t, t)||^2 (per example sum, batch mean).

    It is the ELBO's KL terms with their weights :func:`ddpm_elbo_weight` dropped (chapter 12).
    """
    t = torch.randint(1, schedule.num_steps + 1, (len(x0),), generator=rng).to(x0.device)
    eps = torch.randn(x0.shape, generator=rng).to(x0.device)
    xt = schedule.q_sample(x0, t, eps)
    eps_hat = model(xt, schedule.time(t), _drop_labels(y, p_uncond, num_classes, rng))
    return (eps - eps_hat).pow(2).flatten(1).sum(1).mean()


def gaussian_kl(mean_q: torch.Tensor, var_q: torch.Tensor, mean_p: torch.Tensor, var_p: torch.Tensor) -> torch.Tensor:
    r"""KL(N(mean_q, var_q I) || N(mean_p, var_p I)), summed over all but the first dimension: (B,)."""
    kl = 0.5 * (torch.log(var_p / var_q) + (var_q + (mean_q - mean_p) ** 2) / var_p - 1)
    return kl.flatten(1).sum(1)


def ddpm_elbo_weight(schedule: NoiseSchedule, t: torch.Tensor) -> torch.Tensor:
    r"""lambda_t = beta_t^2 / (2 sigma_t^2 alpha_t (1 - abar_t)) with sigma_t^2 = beta~_t (t >= 2), float64 (B,).

    KL(q(x_{t-1} | x_t, x_0) || p_theta(x_{t-1} | x_t)) = lambda_t ||eps - eps_theta||^2 when p_theta has the
    posterior's variance and the mean mu_theta = (x_t - beta_t / sqrt(1 - abar_t) eps_theta) / sqrt(alpha_t).
    """
    beta, alpha, abar = schedule.betas[t], schedule.alphas[t], schedule.alpha_bars[t]
    sigma2 = (1 - schedule.alpha_bars[t - 1]) / (1 - abar) * beta
    return beta**2 / (2 * sigma2 * alpha * (1 - abar))


def gaussian_optimal_eps(mean: torch.Tensor, cov: torch.Tensor, schedule: NoiseSchedule | None = None) -> Denoiser:
    r"""The exact noise predictor E[eps | x_t] for data N(mean, cov) (D,), (D, D): Tweedie's formula (chapter 12).

    x_t = a x_0 + s eps with a = sqrt(abar_t), s = sqrt(1 - abar_t) (DDPM; ``schedule`` given) or a = 1 - t,
    s = t (straight path; ``schedule=None``). Then x_t ~ N(a mean, a^2 cov + s^2 I) and
    E[eps | x_t] = s (a^2 cov + s^2 I)^{-1} (x_t - a mean) and E[x_0 | x_t] = mean + a cov (a^2 cov + s^2 I)^{-1}
    (x_t - a mean). For the straight path the returned function gives the velocity E[eps - x_0 | x_t] instead.
    """
    mean, cov = mean.double(), cov.double()
    eye = torch.eye(len(mean), dtype=torch.float64)

    def model(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        xd, td = x.double().cpu(), t.double().cpu()
        if schedule is not None:
            abar = schedule.alpha_bars[(td * schedule.num_steps).round().long()]
            a, s = abar.sqrt(), (1 - abar).sqrt()
        else:
            a, s = 1 - td, td
        marginal_cov = a[:, None, None] ** 2 * cov + s[:, None, None] ** 2 * eye  # (B, D, D)
        centred = torch.linalg.solve(marginal_cov, (xd - a[:, None] * mean).unsqueeze(2)).squeeze(2)  # (B, D)
        eps = s[:, None] * centred  # E[eps | x_t]
        if schedule is not None:
            return eps.to(x.dtype).to(x.device)
        x0 = mean + a[:, None] * centred @ cov  # E[x_0 | x_t] (cov is symmetric)
        return (eps - x0).to(x.dtype).to(x.device)

    return model



def flow_matching_loss(
    model: Denoiser, x0: torch.Tensor, y: torch.Tensor | None = None, *, time_power: float = 1.0,
    p_uncond: float = 0.0, num_classes: int = 10, rng: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Conditional flow matching on the straight path x_t = (1 - t) x_0 + t eps: E ||v_theta(x_t, t) - (eps - x_0)||^2.

    Training times t = u^time_power, u ~ U(0, 1): a power above 1 puts more of them near the data (t = 0),
    where narrow modes need a precise field.
    """
    t = torch.rand(len(x0), generator=rng).pow(time_power).to(x0.device)
    eps = torch.randn(x0.shape, generator=rng).to(x0.device)
    tb = t.reshape(-1, *([1] * (x0.dim() - 1)))
    xt = (1 - tb) * x0 + tb * eps
    v_hat = model(xt, t, _drop_labels(y, p_uncond, num_classes, rng))
    return (v_hat - (eps - x0)).pow(2).flatten(1).sum(1).mean()
