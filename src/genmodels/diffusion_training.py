r"""Training the diffusion models of chapter 12: their recipes, the denoiser's training loop, and the command
line's diffusion model (``python -m genmodels train diffusion --data ring8|grid25|mnist``).

The networks, losses and samplers are in :mod:`genmodels.models.diffusion`; this is the training side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .data import IMAGE_DATA, infinite_minibatches, toy_distribution
from .models.config import Config
from .models.diffusion import (
    DigitDenoiser, DigitDenoiserConfig, NoiseSchedule, ToyDenoiser, ToyDenoiserConfig, ddim_sample, ddpm_loss,
    flow_matching_loss, flow_sample, guided,
)
from .recipes import mode_spacing
from .training import History, train_loop

__all__ = [
    "DIFFUSION_TOY_RECIPE", "DIFFUSION_DIGIT_RECIPE", "train_denoiser",
    "DiffusionConfig", "Diffusion", "diffusion_config", "train_diffusion", "sample_diffusion",
]


# ------------------------------------------------------------------------------------------ recipes
# The toys (ring-8, grid-25): flow matching with Fourier features, fresh samples every step, training times
# t = u^2 (dense near the data); sampling with evenly spaced Euler steps. The Fourier base frequency is set
# relative to the spacing of the modes (one radian per spacing), like chapter 5's R1 weight.
DIFFUSION_TOY_RECIPE: dict = {"objective": "flow", "batch_size": 256, "lr": 2e-3, "time_power": 2.0,
                              "sample_steps": 100}
# The digits: DDPM's noise prediction on a cosine schedule, labels dropped 10% of the time for guidance.
DIFFUSION_DIGIT_RECIPE: dict = {"objective": "ddpm", "batch_size": 128, "lr": 1e-3, "p_uncond": 0.1,
                                "schedule_steps": 1000, "sample_steps": 25, "guidance": 2.0, "clip_x0": 1.0}


def train_denoiser(
    model: nn.Module, batches, num_steps: int, *, objective: str, lr: float, schedule: NoiseSchedule | None = None,
    time_power: float = 1.0, p_uncond: float = 0.0, rng: torch.Generator | None = None, **loop_kwargs,
) -> History:
    """Adam with a cosine-decayed learning rate on :func:`ddpm_loss` or :func:`flow_matching_loss`; a History.

    ``batches`` yields (x,) or (x, y) tuples on the model's device.
    """
    if objective not in ("ddpm", "flow"):
        raise ValueError(f"objective must be 'ddpm' or 'flow', got {objective!r}")
    if objective == "ddpm" and schedule is None:
        raise ValueError("objective 'ddpm' needs a NoiseSchedule")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    cosine = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: 0.5 * (1 + math.cos(math.pi * i / num_steps)))
    num_classes = getattr(getattr(model, "config", None), "num_classes", 10)
    model.train()

    def step(i: int) -> dict[str, torch.Tensor]:
        x, *rest = next(batches)
        y = rest[0] if rest else None
        if objective == "ddpm":
            loss = ddpm_loss(model, x, schedule, y, p_uncond=p_uncond, num_classes=num_classes, rng=rng)
        else:
            loss = flow_matching_loss(model, x, y, time_power=time_power, p_uncond=p_uncond,
                                      num_classes=num_classes, rng=rng)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        cosine.step()
        return {"loss": loss.detach()}

    history = train_loop(step, num_steps, **loop_kwargs)
    model.eval()
    return history


# ------------------------------------------------------------------------ the command line's model
@dataclass
class DiffusionConfig(Config):
    """The command line's diffusion model: the toy denoiser (flow matching) or the digit denoiser (DDPM)."""

    data: str = "mnist"
    base_frequency: float = 1.0  # toys: the lowest Fourier octave, 1 / the distance between neighbouring modes


class Diffusion(nn.Module):
    """The denoiser of ``--data`` (``net``) and how many network evaluations a sample takes (``sampler_steps``)."""

    def __init__(self, config: DiffusionConfig | None = None):
        super().__init__()
        self.config = c = config or DiffusionConfig()
        self.image = c.data in IMAGE_DATA
        self.net = DigitDenoiser(DigitDenoiserConfig()) if self.image else ToyDenoiser(
            ToyDenoiserConfig(base_frequency=c.base_frequency))
        self.sampler_steps = (DIFFUSION_DIGIT_RECIPE if self.image else DIFFUSION_TOY_RECIPE)["sample_steps"]


def diffusion_config(data: str) -> DiffusionConfig:
    """The command line's config for ``--data``: the toys' Fourier base frequency from their mode spacing."""
    if data in IMAGE_DATA:
        return DiffusionConfig(data=data)
    return DiffusionConfig(data=data, base_frequency=round(1.0 / mode_spacing(toy_distribution(data).modes), 6))


def train_diffusion(model: Diffusion, data: str, x: torch.Tensor, y: torch.Tensor, num_steps: int) -> History:
    """Chapter 12's recipes: flow matching on fresh toy samples; DDPM with label dropout on the digits in [-1, 1]."""
    rng = torch.Generator().manual_seed(0)
    if model.image:
        recipe = DIFFUSION_DIGIT_RECIPE
        batches = infinite_minibatches(x * 2 - 1, y, batch_size=recipe["batch_size"], rng=rng)
        return train_denoiser(model.net, batches, num_steps, objective="ddpm", lr=recipe["lr"], rng=rng,
                              schedule=NoiseSchedule(recipe["schedule_steps"]), p_uncond=recipe["p_uncond"],
                              desc="diffusion")
    recipe, toy = DIFFUSION_TOY_RECIPE, toy_distribution(data)
    batches = iter(lambda: (toy.sample(recipe["batch_size"], rng)[0].to(x.device),), None)
    return train_denoiser(model.net, batches, num_steps, objective="flow", lr=recipe["lr"],
                          time_power=recipe["time_power"], rng=rng, log_every=100, desc="flow matching")


def sample_diffusion(model: Diffusion, data: str, n: int, label: int | None, rng: torch.Generator) -> torch.Tensor:
    """``n`` samples: Euler steps of the flow on the toys; guided DDIM digits in [0, 1] (of class ``label``)."""
    device = next(model.parameters()).device
    if not model.image:
        return flow_sample(model.net, (n, 2), num_steps=model.sampler_steps, rng=rng, device=device)
    recipe = DIFFUSION_DIGIT_RECIPE
    y = torch.randint(10, (n,), generator=rng) if label is None else torch.full((n,), label, dtype=torch.long)
    x = ddim_sample(guided(model.net, recipe["guidance"], model.net.config.num_classes),
                    NoiseSchedule(recipe["schedule_steps"]), (n, 1, 28, 28), y, num_steps=model.sampler_steps, rng=rng,
                    clip_x0=recipe["clip_x0"], device=device)
    return (x + 1) / 2
