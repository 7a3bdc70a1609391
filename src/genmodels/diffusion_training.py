r"""Training the diffusion models of chapter 12: their recipes and the denoiser's training loop.

The networks, losses and samplers are in :mod:`genmodels.models.diffusion`; this is the training side.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .models.diffusion import NoiseSchedule, ddpm_loss, flow_matching_loss
from .training import History, train_loop

__all__ = ["DIFFUSION_TOY_RECIPE", "DIFFUSION_DIGIT_RECIPE", "train_denoiser"]


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
