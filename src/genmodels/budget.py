"""Quick and full budgets: every step count of every chapter lives in the table below.

``GENMODELS_QUICK=1`` (on under the tests and CI) selects the quick column: fewer steps, never fewer
lessons, never a skipped cell. Without it a learner and the published book get the full column.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import BudgetError

__all__ = ["Budget", "BUDGETS", "is_quick", "steps", "mode"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class Budget:
    """A count for the full course and for the quick run under tests."""

    full: int
    quick: int
    what: str = ""


# One place for every chapter's counts (optimizer steps unless `what` says otherwise).
BUDGETS: dict[str, Budget] = {
    "ch01.classifier": Budget(full=1500, quick=300, what="classifier p(y|x) steps"),
    "ch01.fooling": Budget(full=200, quick=60, what="gradient-ascent steps of the fooling images"),
    "cli.gaussian": Budget(full=1, quick=1, what="the class-conditional Gaussian is fitted in closed form"),
    "cli.classifier": Budget(full=1500, quick=300),
    "cli.vae": Budget(full=3600, quick=300),
    "bench.vae_epochs": Budget(full=10, quick=2, what="epochs of the data-pipeline benchmark"),
    # chapters 2-3: latent distributions, variational autoencoders
    "ch02.map_1d": Budget(full=1500, quick=300, what="sliced-Wasserstein steps of the 1-D noise-to-data map"),
    "ch02.map_2d": Budget(full=2000, quick=400, what="sliced-Wasserstein steps of the 2-D noise-to-moons map"),
    "ch03.autoencoder": Budget(full=2000, quick=300, what="steps of the 2-D autoencoder"),
    "ch03.vae_2d": Budget(full=2000, quick=300, what="steps of the 2-D MLP VAE"),
    "ch03.vae": Budget(full=2500, quick=300, what="steps of the chapter's convolutional VAE (20-D)"),
    "ch03.beta_sweep": Budget(full=2000, quick=300, what="steps of each MLP VAE of the beta sweep"),
    "ch03.mse": Budget(full=1000, quick=200, what="steps of each likelihood VAE (Bernoulli, summed and averaged MSE, learned sigma)"),
    "ch03.cvae": Budget(full=2000, quick=300, what="steps of the conditional VAE"),
    "ch03.ex_sigma": Budget(full=400, quick=150, what="steps of the exercise's per-pixel-sigma VAE (grey digits)"),
    "ch03.ex_iwae": Budget(full=250, quick=60, what="steps of each k = 5 VAE of the IWAE-training exercise"),
    "cli.cvae": Budget(full=2000, quick=300),
    "bench.vae_seconds": Budget(full=120, quick=15, what="wall-clock seconds each VAE trains in the quality benchmark"),
    "bench.vae_cvae": Budget(full=2000, quick=400, what="steps of the CVAE in the quality benchmark"),
    # chapters 4-5: generative adversarial networks, minimax training
    "ch04.gan_1d": Budget(full=1500, quick=500, what="steps of the 1-D GAN"),
    "ch04.gan_ring": Budget(full=3000, quick=600, what="steps of the 2-D GAN on the ring of 8"),
    "ch04.dcgan": Budget(full=2700, quick=250, what="steps of the DCGAN on MNIST"),
    "ch04.cgan": Budget(full=3500, quick=250, what="steps of the conditional GAN on MNIST"),
    "ch05.d_star": Budget(full=3000, quick=1000, what="steps of the discriminator fitted to two fixed densities"),
    "ch05.dirac": Budget(full=400, quick=400, what="gradient steps of the Dirac-GAN (numbers, not networks)"),
    "ch05.toy": Budget(full=3500, quick=200, what="CPU budget of each ring-8 run, in plain-GAN steps (recipes.toy_steps)"),
    "ch05.toy_grid": Budget(full=7800, quick=520, what="CPU budget of each grid-25 run, in plain-GAN steps (best: 6,000)"),
    "ch05.frozen_d": Budget(full=200, quick=100, what="steps of D, then of G against the frozen D, per round"),
    "ch05.ex_frozen_d": Budget(full=100, quick=60, what="steps of D, then of G, per round of the frozen-D exercise"),
    "ch05.ex_r1": Budget(full=600, quick=150, what="steps of each run of the R1 ablation exercise"),
    "cli.gan": Budget(full=5000, quick=300),
    "cli.dcgan": Budget(full=2700, quick=100),
    "cli.cgan": Budget(full=4500, quick=100),
    "bench.gan_toy": Budget(full=6000, quick=200, what="CPU budget of each benchmark run, in plain-GAN steps"),
    "bench.gan_seeds": Budget(full=5, quick=1, what="seeds per row of the mode-collapse benchmark"),
    # chapters 6-7: applications (anomaly detection, motion forecasting)
    "ch06.vae": Budget(full=1200, quick=120, what="steps of each one-class MLP VAE (one per normal digit)"),
    "ch06.autoencoder": Budget(full=1200, quick=120, what="steps of each one-class autoencoder (one per digit)"),
    "ch06.importance_samples": Budget(full=50, quick=8, what="importance samples per test digit (-ELBO, -IWAE)"),
    "ch07.cvae": Budget(full=3000, quick=1000, what="steps of the trajectory CVAE"),
    "ch07.regressor": Budget(full=3000, quick=500, what="steps of the deterministic (MSE) forecaster"),
    "ch07.multihead": Budget(full=3000, quick=500, what="steps of the winner-takes-all 20-head forecaster"),
    "ch07.sigma_sweep": Budget(full=3000, quick=300, what="steps of each CVAE of the sigma sweep (full: as ch07.cvae)"),
    "cli.trajcvae": Budget(full=3000, quick=300),
    # chapters 8 and 11: applications (attribute-conditioned GAN, style-based generator)
    "ch08.acgan": Budget(full=2500, quick=150, what="steps of the attribute-conditioned GAN (AC-GAN) on MNIST"),
    "ch08.invert": Budget(full=300, quick=100, what="Adam steps inverting real test digits into the AC-GAN's z"),
    "ch11.stylegan": Budget(full=1000, quick=150, what="steps of each style-based generator (with and without noise inputs) on ink-grain digits"),
    "cli.acgan": Budget(full=2500, quick=100),
    "cli.stylegan": Budget(full=1500, quick=100),
    # chapters 9-10: applications (pix2pix, super-resolution)
    "ch09.pix2pix": Budget(full=500, quick=60, what="steps of each edges -> digit U-Net (L2, L1, L1 + GAN)"),
    "ch09.colour": Budget(full=500, quick=60, what="steps of each grey -> red-or-green digit U-Net (L2, L1, L1 + GAN)"),
    "ch10.srgan": Budget(full=800, quick=80, what="steps of each 7x7 -> 28x28 network (pixel, pixel + GAN, feature + GAN)"),
    "ch10.feature_net": Budget(full=500, quick=100, what="steps of the small classifier whose features are the perceptual loss"),
    "cli.pix2pix": Budget(full=1500, quick=100),
    "cli.srgan": Budget(full=1500, quick=100),
    # chapter 12: diffusion and flow matching
    "ch12.gauss1d": Budget(full=1500, quick=400, what="steps of the 1-D denoiser compared with Tweedie's exact one"),
    "ch12.toy": Budget(full=12000, quick=800, what="flow-matching steps on each toy (ring-8, grid-25)"),
    "ch12.vae_toy": Budget(full=3000, quick=400, what="steps of the point VAE on each toy (the trilemma's VAE row)"),
    "ch12.digits": Budget(full=1500, quick=150, what="steps of the class-conditional digit denoiser (DDPM, guidance)"),
    "ch12.cvae": Budget(full=2000, quick=300, what="steps of the conditional VAE of the trilemma table"),
    "cli.diffusion_toy": Budget(full=12000, quick=300),
    "cli.diffusion_mnist": Budget(full=1500, quick=50),
    "bench.diffusion_toy": Budget(full=12000, quick=300, what="flow-matching steps of each run of the diffusion benchmark"),
    "bench.diffusion_seeds": Budget(full=5, quick=1, what="seeds per toy of the diffusion benchmark"),
}


def is_quick() -> bool:
    """True when ``GENMODELS_QUICK`` is set to 1/true/yes/on (read on every call)."""
    value = os.environ.get("GENMODELS_QUICK", "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BudgetError(f"GENMODELS_QUICK={value!r} is not understood; set it to 1 (quick) or 0 (full)")


def mode() -> str:
    """``"quick"`` or ``"full"``: part of every cache key, so the two budgets never share a checkpoint."""
    return "quick" if is_quick() else "full"


def steps(name: str) -> int:
    """The count named ``name`` for the current budget, e.g. ``steps("ch01.classifier")``."""
    try:
        budget = BUDGETS[name]
    except KeyError:
        known = ", ".join(sorted(BUDGETS))
        raise BudgetError(f"no budget named {name!r}; known budgets: {known}") from None
    return budget.quick if is_quick() else budget.full
