"""Training recipes as data: batch size, seed and the trainer's keyword arguments of every model of the course.

A :class:`Recipe` knows its batches (``recipe.batches(x, y)``: shuffled with its own seed, and freshly
binarized each time when ``binarize=True``) and the arguments its trainer takes (``train_gan(..., **recipe.train_args)``). :func:`genmodels.checkpoints.cached_model` seeds
with ``recipe.seed`` and keys the checkpoint cache by ``recipe.as_dict()``. Chapter 5 explains the GAN
recipes; each model's chapter explains its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import torch

from .data import binarized, infinite_minibatches

__all__ = [
    "Recipe",
    "CLASSIFIER_RECIPE",
    "VAE_RECIPE",
    "BINARIZED_VAE_RECIPE",
    "IMAGE_RECIPE",
    "DCGAN_RECIPE",
    "DCGAN_DIGITS",
    "STYLEGAN_RECIPE",
    "TRAJECTORY_RECIPE",
    "TOY_VAE_RECIPE",
    "PIX2PIX_RECIPE",
    "SRGAN_RECIPE",
    "TOY_BASE",
    "TOY_METHODS",
    "BEST_TOY_METHOD",
    "TOY_STEP_COST",
    "toy_steps",
    "mode_spacing",
    "toy_recipe",
]


@dataclass(frozen=True)
class Recipe:
    """How one model is trained: ``batch_size``, the ``seed`` of its initialization and batch order,
    ``train_args``, the keyword arguments of its trainer (``fit``, ``train_gan``, ``train_paired``, ...), and
    ``binarize``: train on dynamically binarized images (a fresh Bernoulli draw of every batch,
    :func:`genmodels.data.binarized`), the data on which a Bernoulli decoder's -ELBO is a bound on a true
    -log p(x) in nats (chapter 3)."""

    batch_size: int
    train_args: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    binarize: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.binarize, bool):
            raise TypeError(f"binarize must be True or False, got {self.binarize!r}")
        object.__setattr__(self, "train_args", MappingProxyType(dict(self.train_args)))  # read-only

    def batches(self, *tensors: torch.Tensor, rng: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, ...]]:
        """Endless reshuffled minibatches of ``tensors``, in an order drawn from ``rng`` (default: a
        ``torch.Generator`` seeded with ``self.seed``; ``torch.default_generator`` for the global one). With
        ``binarize``, the images (the first tensor, grey levels in [0, 1]) of every batch are a fresh
        Bernoulli draw, also from ``rng``."""
        rng = rng if rng is not None else torch.Generator().manual_seed(self.seed)
        batches = infinite_minibatches(*tensors, batch_size=self.batch_size, rng=rng)
        return binarized(batches, rng) if self.binarize else batches

    def replace(self, **changes: Any) -> Recipe:
        """A copy with ``batch_size``, ``seed`` or ``binarize`` changed and any other keyword set in ``train_args``."""
        own = {k: changes.pop(k) for k in ("batch_size", "seed", "binarize") if k in changes}
        return replace(self, train_args={**self.train_args, **changes}, **own)

    def as_dict(self) -> dict[str, Any]:
        """Everything in the recipe as one plain dict (a checkpoint cache key; ``binarize`` only when set, so
        the keys of recipes on grey levels are unchanged)."""
        own = {"batch_size": self.batch_size, "seed": self.seed, **({"binarize": True} if self.binarize else {})}
        return {**own, **self.train_args}


# The digit classifier of chapter 1, the judge of later chapters: Adam at 1e-3 on batches of 128.
CLASSIFIER_RECIPE = Recipe(128, {"lr": 1e-3})

# The command line's VAE and CVAE (the pytorch/examples reference): batches of 128, Adam at 1e-3; one process
# or N under torchrun (genmodels.distributed keeps the global batch at 128).
VAE_RECIPE = Recipe(128, {"lr": 1e-3})
# The same on dynamically binarized digits: every number a Bernoulli VAE reports in nats (-ELBO, -IWAE) is then
# a bound on a true -log p(x) (chapters 3 and 6).
BINARIZED_VAE_RECIPE = VAE_RECIPE.replace(binarize=True)

# GANs on digits (chapter 4; chapter 8's AC-GAN too): batches of 64, Adam at 1e-3 with beta_1 = 0.5 for both
# players, the learning rate decayed linearly to 0.
IMAGE_RECIPE = Recipe(64, {"kind": "non-saturating", "lr_g": 1e-3, "lr_d": 1e-3, "decay_lr": True})

# Chapter 4's DCGAN, from the paper's recipe (Radford et al., 2016): Adam with beta_1 = 0.5 for both players,
# constant rates, batch norm in both networks (`DCGAN_DIGITS`, the chapter's and the CLI's networks).
# Differences, stated in chapter 4: batches of 64 (paper: 128), two layers per network (paper: four, for 64 x 64
# images), a sigmoid output for pixels in [0, 1] (paper: tanh for [-1, 1]), PyTorch's default initialization;
# against mode dropping (the paper's recipe all but drops the 1s here: 0.1% of samples, 2.95 bits), an R1 penalty
# on real digits (gamma = 0.1, Mescheder et al., 2018) and rates of 3e-4 (paper: 2e-4): 66.8% of samples read
# with p >= 0.9 and 3.20 bits at 2,700 steps (issue 13; benchmarks/bench_dcgan_trials.py).
DCGAN_RECIPE = Recipe(64, {"kind": "non-saturating", "lr_g": 3e-4, "lr_d": 3e-4, "betas": (0.5, 0.999),
                           "r1_gamma": 0.1})
DCGAN_DIGITS = {"latent_dim": 64, "channels": 16, "d_batch_norm": True}  # DCGANConfig(**DCGAN_DIGITS)

# Chapter 11: the image recipe with batches of 32: the style layers cost about six times the DCGAN generator
# per image, and on a CPU more steps of smaller batches go further.
STYLEGAN_RECIPE = IMAGE_RECIPE.replace(batch_size=32)

# Chapter 12's point VAE (the VAE row of the trilemma table on ring-8 and grid-25): Adam at 1e-3, batches of 256
# fresh toy samples, like the toy GANs.
TOY_VAE_RECIPE = Recipe(256, {"lr": 1e-3})

# Chapter 7's forecasters: Adam at 1e-3, batches of 256 agents.
TRAJECTORY_RECIPE = Recipe(256, {"lr": 1e-3})

# pix2pix (Isola et al., 2017), chapter 9: Adam with beta_1 = 0.5, the rate decayed over the second half, L1
# weighted by lambda against the adversarial loss. The paper's lambda = 100 (images in [-1, 1], 200 epochs)
# leaves the adversarial term with almost no effect in our few hundred steps; chapter 9 uses lambda = 10. Batches
# of 64 and a rate of 1e-3 (not 2e-4) fit a CPU budget.
PIX2PIX_RECIPE = Recipe(64, {
    "lr": 1e-3, "betas": (0.5, 0.999), "decay_lr": True, "decay_start": 0.5,
    "pixel_loss": "l1", "pixel_weight": 10.0, "adversarial_weight": 1.0, "kind": "non-saturating",
})

# SRGAN (Ledig et al., 2017), chapter 10: content (pixel) loss + 1e-3 x adversarial loss, D unconditional. Our
# images are in [0, 1] and tiny, so the mean squared error is about 100x smaller than theirs; the adversarial
# weight is set for our scale (the chapter shows the trade-off as it changes).
SRGAN_RECIPE = PIX2PIX_RECIPE.replace(pixel_loss="mse", pixel_weight=1.0, adversarial_weight=1e-2,
                                      conditional=False)

# ------------------------------------------------------------------- the 2-D toys (chapter 5 explains them)
# Adam at 1e-3 on both players, batches of 256 fresh samples, non-saturating loss. Each "fix" of chapter 5
# changes a few of these settings ("model": MLPGANConfig fields, "train": train_gan arguments), at its paper's
# recipe where the paper gives one. R1's gamma has the units of a squared distance: it is set relative to the
# squared distance between neighbouring modes, gamma = 0.02 d^2 (about 0.012 on the ring, 0.08 on the grid).
# WGAN-GP is Algorithm 1 of Gulrajani et al. (2017): lambda = 10, 5 critic steps per generator step, Adam at
# 1e-4 with betas (0, 0.9). PacGAN packs 4 samples, the row Lin et al. (2018) publish for these toys.
TOY_BASE = Recipe(256, {"kind": "non-saturating", "lr_g": 1e-3, "lr_d": 1e-3})
TOY_METHODS: dict[str, dict] = {
    "GAN": {},
    "PacGAN4": {"model": {"pack": 4}},
    "minibatch std": {"model": {"minibatch_std": True}},
    "WGAN-GP": {"train": {"kind": "wasserstein", "gp_weight": 10.0, "d_steps": 5, "lr_g": 1e-4, "lr_d": 1e-4,
                          "betas": (0.0, 0.9)}},
    "R1": {"r1": 0.02},
    "lr decay": {"train": {"decay_lr": True, "decay_start": 0.5}},
    "R1 + lr decay": {"r1": 0.02, "train": {"decay_lr": True, "decay_start": 0.5}},
}
BEST_TOY_METHOD = "R1 + lr decay"
# CPU-seconds of one generator step of each method relative to the plain GAN's (one torch thread, measured
# for chapter 5): an equal CPU budget gives each method round(num_steps / cost) generator steps.
TOY_STEP_COST: dict[str, float] = {
    "GAN": 1.0, "PacGAN4": 0.75, "minibatch std": 1.15, "WGAN-GP": 4.8, "R1": 1.3, "lr decay": 1.0,
    "R1 + lr decay": 1.3,
}


def mode_spacing(modes: torch.Tensor) -> float:
    """The smallest distance between two modes (K, D): the length scale of a toy."""
    distance = torch.cdist(modes.double(), modes.double())
    return distance[distance > 0].min().item()


def toy_recipe(method: str, modes: torch.Tensor) -> tuple[dict, Recipe]:
    """(MLPGANConfig overrides, training recipe) of a chapter-5 method on a toy with these modes."""
    if method not in TOY_METHODS:
        raise ValueError(f"unknown toy method {method!r}; choose one of: {', '.join(TOY_METHODS)}")
    spec = TOY_METHODS[method]
    recipe = TOY_BASE.replace(**spec.get("train", {}))
    if "r1" in spec:
        recipe = recipe.replace(r1_gamma=round(spec["r1"] * mode_spacing(modes) ** 2, 5))
    return dict(spec.get("model", {})), recipe


def toy_steps(method: str, num_steps: int) -> int:
    """Generator steps of ``method`` in the CPU time of ``num_steps`` plain-GAN steps (chapter 5's equal budget)."""
    if method not in TOY_STEP_COST:
        raise ValueError(f"unknown toy method {method!r}; choose one of: {', '.join(TOY_STEP_COST)}")
    return max(1, round(num_steps / TOY_STEP_COST[method]))
