"""Chapter 5's toy GAN runs: one method of :data:`genmodels.recipes.TOY_METHODS` on a 2-D toy, monitored.

:func:`train_toy_gan` trains (or loads) a GAN on ``ring8`` or ``grid25`` with its method's recipe, at an equal
CPU budget (:func:`genmodels.recipes.toy_steps`), and watches what matters: every logged step a monitor
measures the modes captured and the high-quality share on a fixed set of latent vectors (logged beside the
losses), keeps a few of those sample clouds for the animation, and the history records the CPU-seconds of
training (``history["cpu_seconds"]``, the process time of the run that trained it).

Cache names and keys, stable for reuse by later chapters (chapter 12's toy comparison): the checkpoint name is
``ch05-{toy}-{method}`` (e.g. ``ch05-ring8-R1 + lr decay``) and the key is the :class:`Recording` class, the
recipe of :func:`genmodels.recipes.toy_recipe` with ``seed``, ``num_steps = toy_steps(method, budget)``,
``toy``, ``method``, ``model_options`` and ``frames = [num_frames, frame_points]``. The trained GAN is
``recording.gan`` (a :class:`genmodels.models.GAN`).
"""

from __future__ import annotations

import time

import torch
from torch import nn

from .checkpoints import cached_model
from .data import toy_distribution
from .gan_training import train_gan
from .metrics import mode_coverage
from .models import GAN, MLPGANConfig, sample_latent
from .recipes import toy_recipe, toy_steps
from .training import History

__all__ = ["Recording", "toy_monitor", "train_toy_gan"]

NUM_MONITOR_SAMPLES = 2500  # the VEEGAN / PacGAN protocol's sample size
NUM_LOGS = 48               # logged (and monitored) steps per run


class Recording(nn.Module):
    """A toy GAN (``.gan``) and the samples it drew during training, cached together as one checkpoint.

    ``frames`` (F, P, 2) holds the first P samples of the monitor's fixed latent vectors at the training steps
    ``frame_steps`` (F,); :meth:`taken` returns the frames actually recorded.
    """

    def __init__(self, config: MLPGANConfig, num_frames: int = 16, frame_points: int = 600) -> None:
        super().__init__()
        self.gan = GAN(config)
        self.register_buffer("frames", torch.zeros(num_frames, frame_points, 2))
        self.register_buffer("frame_steps", torch.full((num_frames,), -1, dtype=torch.long))

    def record(self, index: int, step: int, x: torch.Tensor) -> None:
        """Keep the first P rows of the samples ``x`` (N, 2) as frame ``index``, drawn at training ``step``."""
        self.frames[index] = x[: self.frames.shape[1]]
        self.frame_steps[index] = step

    def taken(self) -> tuple[list[torch.Tensor], list[int]]:
        """The recorded frames (each (P, 2), on the CPU) and their training steps, in order."""
        kept = (self.frame_steps >= 0).nonzero().squeeze(1).tolist()
        return [self.frames[i].cpu() for i in kept], [int(self.frame_steps[i]) for i in kept]


def toy_monitor(recording: Recording, toy_name: str, fixed_z: torch.Tensor, num_steps: int, log_every: int):
    """The ``monitor()`` of :func:`genmodels.gan_training.train_gan` for a toy run (called at each logged step).

    Returns ``{"modes", "high_quality"}`` of ``G(fixed_z)`` (:func:`genmodels.metrics.mode_coverage`) and
    records every ``every``-th cloud into ``recording`` so that its frames span the whole run.
    """
    toy = toy_distribution(toy_name)
    num_frames = recording.frames.shape[0]
    num_logs = (num_steps - 1) // log_every + 1 + ((num_steps - 1) % log_every != 0)  # train_loop's logged steps
    every = max(1, num_logs // num_frames)
    calls = [0]

    def monitor() -> dict[str, float]:
        with torch.no_grad():
            x = recording.gan.generator(fixed_z)
        k = calls[0]
        calls[0] += 1
        if k % every == 0 and k // every < num_frames:
            recording.record(k // every, min(k * log_every, num_steps - 1), x)
        result = mode_coverage(x, toy.modes, toy.std)
        return {"modes": result.num_captured, "high_quality": result.high_quality}

    return monitor


def train_toy_gan(
    toy_name: str,
    method: str,
    budget: int,
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
    num_frames: int = 16,
    frame_points: int = 600,
) -> tuple[Recording, History]:
    """Train (or load) ``method`` on the toy ``toy_name`` for the CPU time of ``budget`` plain-GAN steps.

    The recipe is :func:`genmodels.recipes.toy_recipe` with ``seed``; batches of fresh toy samples; a monitor
    (:func:`toy_monitor`) on 2,500 latent vectors drawn with seed 0. Returns ``(recording, history)``.
    """
    toy = toy_distribution(toy_name)
    model_options, recipe = toy_recipe(method, toy.modes)
    recipe = recipe.replace(seed=seed)
    num_steps = toy_steps(method, budget)
    log_every = max(1, num_steps // NUM_LOGS)
    fixed_z = sample_latent(NUM_MONITOR_SAMPLES, MLPGANConfig(**model_options).latent_dim,
                            torch.Generator().manual_seed(0), device)

    def train(recording: Recording) -> History:
        noise = torch.Generator().manual_seed(seed)
        batches = iter(lambda: (toy.sample(recipe.batch_size, noise)[0].to(device),), None)
        monitor = toy_monitor(recording, toy_name, fixed_z, num_steps, log_every)
        start = time.process_time()
        history = train_gan(recording.gan.generator, recording.gan.discriminator, batches, num_steps,
                            latent_dim=recording.gan.config.latent_dim, seed=recipe.seed, monitor=monitor,
                            log_every=log_every, desc=f"{method} on {toy_name}", **recipe.train_args)
        history.values["cpu_seconds"] = [time.process_time() - start]
        return history

    def build() -> Recording:
        return Recording(MLPGANConfig(**model_options), num_frames, frame_points).to(device)

    return cached_model(f"ch05-{toy_name}-{method}", build, train, recipe, num_steps, toy=toy_name,
                        method=method, model_options=model_options, frames=[num_frames, frame_points],
                        timed=True)  # histories carry "cpu_seconds": never reuse an older entry that does not
