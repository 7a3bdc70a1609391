r"""The two-stage GAN update of chapter 4, written once and shared by the chapters, the CLI and the benchmark.

One training step of a GAN is two updates, in this order (the lecture notes' "two stages"):

1. **Update D** on a real batch and a generated batch. G's output is computed without a graph
   (``torch.no_grad``), so no gradient can reach G and G's optimizer is never called.
2. **Update G** through D. The gradient flows *through* D to G's output, but D's parameters are frozen
   (``requires_grad=False`` for the duration of the step), so they get no gradient and D's optimizer is
   never called.

:func:`make_gan_step` returns the ``step(i)`` that :func:`genmodels.training.train_loop` repeats.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from .losses import discriminator_loss, generator_loss, gradient_penalty, r1_penalty
from .training import History, train_loop

__all__ = [
    "frozen",
    "discriminator_step",
    "generator_step",
    "make_gan_step",
    "train_gan",
    "train_players",
    "TOY_BASE",
    "TOY_METHODS",
    "BEST_TOY_METHOD",
    "toy_recipe",
    "mode_spacing",
    "IMAGE_RECIPE",
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
) -> dict[str, torch.Tensor]:
    r"""Stage 1 (chapter 4): one optimizer step of D; G is only run forward, without a graph.

    D minimizes ``discriminator_loss(l(x), l(G(z)), kind)`` (for the BCE kinds: maximizes
    log D(x) + log(1 - D(G(z)))), plus ``r1_gamma / 2 * R1`` and ``gp_weight * GP`` when asked (chapter 5).
    ``cond`` are labels given to both networks (conditional GAN). Returns detached logged values.
    """
    with torch.no_grad():  # G's output as a constant: nothing to backpropagate into G
        x_fake = generator(z, *cond)
    real_logits = discriminator(x_real, *cond)
    fake_logits = discriminator(x_fake, *cond)
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
) -> dict[str, torch.Tensor]:
    r"""Stage 2 (chapter 4): one optimizer step of G through a frozen D.

    G minimizes ``generator_loss(l(G(z)), kind)``: for ``non-saturating``, -log D(G(z)). The gradient
    flows through D's layers to x_hat = G(z) and on into G; D's parameters get none.
    """
    with frozen(discriminator):
        loss = generator_loss(discriminator(generator(z, *cond), *cond), kind).mean()
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
    noise: torch.Generator | None = None,
) -> Callable[[int], dict[str, torch.Tensor]]:
    """The ``step(i)`` of a GAN for :func:`genmodels.training.train_loop`: ``d_steps`` D updates, then one G update.

    ``batches`` yields ``(x_real, *labels)``; the generated batch reuses the labels (conditional GAN).
    z is drawn on the CPU from ``noise`` and moved to the device of ``x_real``.
    """

    def draw_z(n: int, device: torch.device) -> torch.Tensor:
        return torch.randn(n, latent_dim, generator=noise).to(device)

    def step(i: int) -> dict[str, torch.Tensor]:
        for _ in range(d_steps):
            x_real, *cond = next(batches)
            logged = discriminator_step(
                generator, discriminator, optimizer_d, x_real, draw_z(len(x_real), x_real.device), *cond,
                kind=kind, r1_gamma=r1_gamma, gp_weight=gp_weight,
            )
        logged |= generator_step(
            generator, discriminator, optimizer_g, draw_z(len(x_real), x_real.device), *cond, kind=kind
        )
        return logged

    return step


def _with_lr_decay(step: Callable, optimizers: tuple, num_steps: int, start: int) -> Callable:
    """``step`` followed by a linear learning-rate decay to 0 between step ``start`` and the last (chapter 5)."""

    def factor(i: int) -> float:
        return 1.0 if i < start else 1 - (i - start) / (num_steps - start)

    schedules = [torch.optim.lr_scheduler.LambdaLR(o, factor) for o in optimizers]

    def decayed_step(i: int) -> dict[str, torch.Tensor]:
        logged = step(i)
        for schedule in schedules:
            schedule.step()
        return logged

    return decayed_step


def _with_monitor(step: Callable, monitor: Callable[[], dict[str, float]], log_every: int, num_steps: int) -> Callable:
    """``step`` whose logged values also hold ``monitor()``'s sample-quality numbers (chapter 5)."""

    def monitored_step(i: int) -> dict[str, torch.Tensor]:
        logged = step(i)
        if i % log_every == 0 or i == num_steps - 1:  # exactly the steps train_loop records
            logged = {**logged, **monitor()}
        return logged

    return monitored_step


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

    Keyword arguments of :func:`make_gan_step` (``kind``, ``r1_gamma``, ``gp_weight``, ``d_steps``) and of
    :func:`train_loop` (``desc``, ``log_every``, ``callback``, ...) pass through.
    """
    step_keys = {"kind", "r1_gamma", "gp_weight", "d_steps"}
    step_kwargs = {k: v for k, v in step_and_loop_kwargs.items() if k in step_keys}
    loop_kwargs = {k: v for k, v in step_and_loop_kwargs.items() if k not in step_keys}

    def make_step(optimizer_g: torch.optim.Optimizer, optimizer_d: torch.optim.Optimizer) -> Callable:
        return make_gan_step(generator, discriminator, optimizer_g, optimizer_d, batches, latent_dim,
                             noise=torch.Generator().manual_seed(seed), **step_kwargs)

    return train_players(generator, discriminator, make_step, num_steps, lr_g=lr_g, lr_d=lr_d, betas=betas,
                         decay_lr=decay_lr, decay_start=decay_start, monitor=monitor, **loop_kwargs)


def train_players(
    generator: nn.Module,
    discriminator: nn.Module | None,
    make_step: Callable[[torch.optim.Optimizer, torch.optim.Optimizer | None], Callable[[int], dict]],
    num_steps: int,
    *,
    lr_g: float,
    lr_d: float,
    betas: tuple[float, float],
    decay_lr: bool = False,
    decay_start: float = 0.0,
    monitor: Callable[[], dict[str, float]] | None = None,
    **loop_kwargs,
) -> History:
    """The loop around every two-player step of the course (GAN, AC-GAN, pix2pix, SRGAN); returns the history.

    One Adam per player (``discriminator=None``: G alone, plain regression), both networks in training mode,
    ``step = make_step(optimizer_g, optimizer_d)``, the optional linear learning-rate decay and monitor of
    :func:`train_gan`, :func:`genmodels.training.train_loop`, and both networks back in evaluation mode.
    """
    optimizer_g = torch.optim.Adam(generator.parameters(), lr=lr_g, betas=betas)
    optimizer_d = None if discriminator is None else torch.optim.Adam(discriminator.parameters(), lr=lr_d, betas=betas)
    players = [m for m in (generator, discriminator) if m is not None]
    for player in players:
        player.train()
    step = make_step(optimizer_g, optimizer_d)
    if decay_lr:
        optimizers = tuple(o for o in (optimizer_g, optimizer_d) if o is not None)
        step = _with_lr_decay(step, optimizers, num_steps, int(decay_start * num_steps))
    if monitor is not None:
        step = _with_monitor(step, monitor, loop_kwargs.get("log_every", 10), num_steps)
    history = train_loop(step, num_steps, **loop_kwargs)
    for player in players:
        player.eval()
    return history


# ------------------------------------------------------------------- recipes (chapter 5 explains them)
# The 2-D toys: Adam at 1e-3 on both players, batches of 256 fresh samples, non-saturating loss. Each "fix"
# of chapter 5 changes a few of these settings ("model": MLPGANConfig fields, "train": train_gan arguments).
# R1's gamma has the units of a squared distance: it is set relative to the squared distance between
# neighbouring modes, gamma = 0.02 d^2 (about 0.012 on the ring, 0.08 on the grid).
TOY_BASE: dict = {"batch_size": 256, "kind": "non-saturating", "lr_g": 1e-3, "lr_d": 1e-3}
TOY_METHODS: dict[str, dict] = {
    "GAN": {},
    "PacGAN2": {"model": {"pack": 2}},
    "minibatch std": {"model": {"minibatch_std": True}},
    "WGAN-GP": {"train": {"kind": "wasserstein", "gp_weight": 0.1}},
    "R1 + lr decay": {"r1": 0.02, "train": {"decay_lr": True, "decay_start": 0.5}},
}
BEST_TOY_METHOD = "R1 + lr decay"


def mode_spacing(modes: torch.Tensor) -> float:
    """The smallest distance between two modes (K, D): the length scale of a toy."""
    distance = torch.cdist(modes.double(), modes.double())
    return distance[distance > 0].min().item()


def toy_recipe(method: str, modes: torch.Tensor) -> tuple[dict, dict]:
    """(MLPGANConfig overrides, train_gan keyword arguments) of a chapter-5 method on a toy with these modes."""
    if method not in TOY_METHODS:
        raise ValueError(f"unknown toy method {method!r}; choose one of: {', '.join(TOY_METHODS)}")
    spec = TOY_METHODS[method]
    train = {**TOY_BASE, **spec.get("train", {})}
    if "r1" in spec:
        train["r1_gamma"] = round(spec["r1"] * mode_spacing(modes) ** 2, 5)
    return dict(spec.get("model", {})), train


IMAGE_RECIPE: dict = {"batch_size": 64, "kind": "non-saturating", "lr_g": 1e-3, "lr_d": 1e-3, "decay_lr": True}
