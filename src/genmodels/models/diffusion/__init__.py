r"""Diffusion and flow matching (chapter 12): noise schedule, denoisers, losses, samplers.

Conventions (chapter 12 derives them). Time runs from the data (t = 0) to pure noise (t = T, or t = 1):

* DDPM {Ho et al. 2020}: discrete steps t = 1..T, ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps``; the network
  predicts the noise ``eps`` from ``(x_t, t / T, y)``.
* Flow matching / rectified flow {Lipman et al. 2023; Liu et al. 2023}: continuous t in [0, 1],
  ``x_t = (1 - t) x_0 + t eps`` (a straight path), the network predicts the velocity ``v = eps - x_0``.

Every network here has the signature ``model(x, t, y=None)`` with ``t`` a float tensor (B,) in [0, 1] and
``y`` class labels (B,) or None; index ``num_classes`` is the "no label" token of classifier-free guidance
(Ho & Salimans 2022). Any function with that signature can stand in for a network, e.g. the exact denoiser
of Gaussian data (:func:`gaussian_optimal_eps`).

The package: :mod:`.schedule` (the noise schedule), :mod:`.networks` (the denoisers and their configs),
:mod:`.losses` (DDPM and flow-matching losses, the ELBO's Gaussian KLs and weights, the exact denoiser of
Gaussian data) and :mod:`.samplers` (DDPM, DDIM, Euler / flow, guidance). Import from here.
"""

from .losses import ddpm_elbo_weight, ddpm_loss, flow_matching_loss, gaussian_kl, gaussian_optimal_eps
from .networks import DigitDenoiser, DigitDenoiserConfig, ToyDenoiser, ToyDenoiserConfig
from .samplers import ddim_sample, ddpm_sample, flow_sample, guided
from .schedule import NoiseSchedule

__all__ = [
    "NoiseSchedule", "ToyDenoiserConfig", "ToyDenoiser", "DigitDenoiserConfig", "DigitDenoiser",
    "ddpm_loss", "ddpm_elbo_weight", "gaussian_kl", "gaussian_optimal_eps", "ddpm_sample", "ddim_sample",
    "flow_matching_loss", "flow_sample", "guided",
]
