r"""The two-stage GAN update of chapter 4, written once and shared by the chapters, the CLI and the benchmark.

One training step of a GAN is two updates, in this order (the lecture notes' "two stages"):

1. **Update D** on a real batch and a generated batch. G's output is computed without a graph
   (``torch.no_grad``), so no gradient can reach G and G's optimizer is never called.
2. **Update G** through D. The gradient flows *through* D to G's output, but D's parameters are frozen
   (``requires_grad=False`` for the duration of the step), so they get no gradient and D's optimizer is
   never called.

:func:`make_gan_step` returns the ``step(i)`` that :func:`genmodels.training.train_players` repeats;
:func:`make_acgan_step` is the same step with chapter 8's auxiliary losses. The recipes (learning rates, batch
sizes) are in :mod:`genmodels.recipes`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from .diffaug import diff_augment
from .losses import (acgan_discriminator_loss, acgan_generator_loss, discriminator_loss, generator_loss,
                     gradient_penalty, r1_penalty)
from .models.gan import sample_latent
from .training import History, train_players

__all__ = [
    "frozen",
    "discriminator_step",
    "generator_step",
    "make_gan_step",
    "train_gan",
    "make_acgan_step",
    "train_acgan",
]


@contextmanager
def frozen(module: nn.Module) -> Iterator[nn.Module]:
    """Switch off ``requires_grad`` of every parameter of ``module`` inside the ``with`` block, then restore it."""
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


def discriminator_step(
    generator: nn.Module,
    discriminator: nn.Module,
    optimizer: torch.optim.Optimizer,
    x_real: torch.Tensor,
    z: torch.Tensor,
    *cond: torch.Tensor,
    kind: str = "non-saturating",
    r1_gamma: float = 0.0,
    gp_weight: float = 0.0,
    augment: str = "",
) -> dict[str, torch.Tensor]:
    r"""Stage 1 (chapter 4): one optimizer step of D; G is only run forward, without a graph.

    D minimizes ``discriminator_loss(l(x), l(G(z)), kind)`` (for the BCE kinds: maximizes
    log D(x) + log(1 - D(G(z)))), plus ``r1_gamma / 2 * R1`` and ``gp_weight * GP`` when asked (chapter 5).
    ``cond`` are labels given to both networks (conditional GAN). ``augment`` (DiffAugment, chapter 4) is a
    :func:`genmodels.diffaug.diff_augment` policy applied to both batches before D. Returns detached logged values.
    """
    with torch.no_grad():  # G's output as a constant: nothing to backpropagate into G
        x_fake = generator(z, *cond)
    real_logits = discriminator(diff_augment(x_real, augment), *cond)
    fake_logits = discriminator(diff_augment(x_fake, augment), *cond)
    loss = discriminator_loss(real_logits, fake_logits, kind).mean()
    logged = {"loss_d": loss.detach()}
    if r1_gamma:
        r1 = r1_penalty(discriminator, x_real, *cond).mean()
        loss = loss + 0.5 * r1_gamma * r1
        logged["r1"] = r1.detach()
    if gp_weight:
        gp = gradient_penalty(discriminator, x_real, x_fake, *cond).mean()
        loss = loss + gp_weight * gp
        logged["gp"] = gp.detach()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    logged["d_real"] = torch.sigmoid(real_logits.detach()).mean()  # D(x): 1 = "surely real"
    logged["d_fake"] = torch.sigmoid(fake_logits.detach()).mean()  # D(G(z))
    return logged


def generator_step(
    generator: nn.Module,
    discriminator: nn.Module,
    optimizer: torch.optim.Optimizer,
    z: torch.Tensor,
    *cond: torch.Tensor,
    kind: str = "non-saturating",
    augment: str = "",
) -> dict[str, torch.Tensor]:
    r"""Stage 2 (chapter 4): one optimizer step of G through a frozen D.

    G minimizes ``generator_loss(l(G(z)), kind)``: for ``non-saturating``, -log D(G(z)). The gradient
    flows through D's layers (and the ``augment`` policy D's step used) to x_hat = G(z) and on into G; D's
    parameters get none.
    """
    with frozen(discriminator):
        loss = generator_loss(discriminator(diff_augment(generator(z, *cond), augment), *cond), kind).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return {"loss_g": loss.detach()}


def make_gan_step(
    generator: nn.Module,
    discriminator: nn.Module,
    optimizer_g: torch.optim.Optimizer,
    optimizer_d: torch.optim.Optimizer,
    batches: Iterator[tuple[torch.Tensor, ...]],
    latent_dim: int,
    *,
    kind: str = "non-saturating",
    r1_gamma: float = 0.0,
    gp_weight: float = 0.0,
    d_steps: int = 1,
    augment: str = "",
    noise: torch.Generator | None = None,
) -> Callable[[int], dict[str, torch.Tensor]]:
    """The ``step(i)`` of a GAN for :func:`genmodels.training.train_loop`: ``d_steps`` D updates, then one G update.

    ``batches`` yields ``(x_real, *labels)``; the generated batch reuses the labels (conditional GAN).
    z is drawn on the CPU from ``noise`` and moved to the device of ``x_real``.
    """

    def draw_z(n: int, device: torch.device) -> torch.Tensor:
        return sample_latent(n, latent_dim, noise, device)

    def step(i: int) -> dict[str, torch.Tensor]:
        for _ in range(d_steps):
            x_real, *cond = next(batches)
            logged = discriminator_step(
                generator, discriminator, optimizer_d, x_real, draw_z(len(x_real), x_real.device), *cond,
                kind=kind, r1_gamma=r1_gamma, gp_weight=gp_weight, augment=augment,
            )
        logged |= generator_step(
            generator, discriminator, optimizer_g, draw_z(len(x_real), x_real.device), *cond, kind=kind,
            augment=augment,
        )
        return logged

    return step


def train_gan(
    generator: nn.Module,
    discriminator: nn.Module,
    batches: Iterator[tuple[torch.Tensor, ...]],
    num_steps: int,
    *,
    latent_dim: int,
    lr_g: float = 2e-4,
    lr_d: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    seed: int = 0,
    decay_lr: bool = False,
    decay_start: float = 0.0,
    monitor: Callable[[], dict[str, float]] | None = None,
    **step_and_loop_kwargs,
) -> History:
    """Adam for both players, then :func:`make_gan_step` repeated by :func:`train_loop`; returns the history.

    ``decay_lr`` lowers both learning rates linearly to zero, from step ``decay_start * num_steps`` to the
    last (chapter 5).
    ``monitor()``, if given, is called at every logged step and its numbers (e.g. modes captured) are logged
    with the losses: the things to watch instead of the losses (chapter 5).

    Keyword arguments of :func:`make_gan_step` (``kind``, ``r1_gamma``, ``gp_weight``, ``d_steps``,
    ``augment``) and of :func:`train_loop` (``desc``, ``log_every``, ``callback``, ...) pass through.
    """
    step_keys = {"kind", "r1_gamma", "gp_weight", "d_steps", "augment"}
    step_kwargs = {k: v for k, v in step_and_loop_kwargs.items() if k in step_keys}
    loop_kwargs = {k: v for k, v in step_and_loop_kwargs.items() if k not in step_keys}

    def make_step(optimizer_g: torch.optim.Optimizer, optimizer_d: torch.optim.Optimizer) -> Callable:
        return make_gan_step(generator, discriminator, optimizer_g, optimizer_d, batches, latent_dim,
                             noise=torch.Generator().manual_seed(seed), **step_kwargs)

    return train_players(generator, discriminator, make_step, num_steps, lr_g=lr_g, lr_d=lr_d, betas=betas,
                         decay_lr=decay_lr, decay_start=decay_start, monitor=monitor, **loop_kwargs)


# ------------------------------------------------------------------------------ AC-GAN (chapter 8)
def make_acgan_step(
    generator: nn.Module,
    discriminator: nn.Module,
    optimizer_g: torch.optim.Optimizer,
    optimizer_d: torch.optim.Optimizer,
    batches: Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    *,
    kind: str = "non-saturating",
    noise: torch.Generator | None = None,
) -> Callable[[int], dict[str, torch.Tensor]]:
    """The two-stage ``step(i)`` of chapter 4 with the auxiliary losses of chapter 8; for :func:`train_loop`.

    ``batches`` yields (x, y, a): real digits, labels and standardized measured attributes. The generated
    batch requests the labels and attributes of the real batch, so requests follow the data's joint
    distribution of (class, thickness, slant).
    """
    config = generator.config

    def step(i: int) -> dict[str, torch.Tensor]:
        x_real, y, a = next(batches)
        # (1) Update D: adversarial loss + auxiliary losses; G's output detached, only D steps
        with torch.no_grad():
            x_fake = generator(sample_latent(len(x_real), config.latent_dim, noise, x_real.device), y, a)
        losses_d = acgan_discriminator_loss(discriminator(x_real), discriminator(x_fake), y, a, y, a, config, kind)
        optimizer_d.zero_grad(set_to_none=True)
        losses_d["loss"].backward()
        optimizer_d.step()
        # (2) Update G: fool D and make its auxiliary heads read back (y, a); D frozen, only G steps
        with frozen(discriminator):
            z = sample_latent(len(x_real), config.latent_dim, noise, x_real.device)
            losses_g = acgan_generator_loss(discriminator(generator(z, y, a)), y, a, config, kind)
            optimizer_g.zero_grad(set_to_none=True)
            losses_g["loss"].backward()
            optimizer_g.step()
        return {k: v.detach() for k, v in {**losses_d, **losses_g}.items() if k != "loss"}

    return step


def train_acgan(
    generator: nn.Module,
    discriminator: nn.Module,
    batches: Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    num_steps: int,
    *,
    lr_g: float = 2e-4,
    lr_d: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    seed: int = 0,
    decay_lr: bool = False,
    decay_start: float = 0.0,
    kind: str = "non-saturating",
    **loop_kwargs,
) -> History:
    """Adam for both players and :func:`make_acgan_step` repeated by :func:`train_loop` (as :func:`train_gan`)."""
    def make_step(optimizer_g: torch.optim.Optimizer, optimizer_d: torch.optim.Optimizer) -> Callable:
        return make_acgan_step(generator, discriminator, optimizer_g, optimizer_d, batches, kind=kind,
                               noise=torch.Generator().manual_seed(seed))

    return train_players(generator, discriminator, make_step, num_steps, lr_g=lr_g, lr_d=lr_d, betas=betas,
                         decay_lr=decay_lr, decay_start=decay_start, **loop_kwargs)
