r"""The paired image-to-image training step of chapter 9 (pix2pix), reused by chapter 10 (SRGAN).

Pairs (x_in, x) of an input and its target; G minimizes a pixel loss plus an adversarial one,

    L_G = pixel_weight * pixel(G(x_in), x) + adversarial_weight * adv(D(x_in, G(x_in))),

the pixel loss pulling every output toward *its* target, the discriminator toward *a* plausible image. One
step is the two-stage update of chapter 4: D on real and fake pairs, then G through a frozen D.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import nn

from .gan_training import frozen
from .losses import PIXEL_LOSSES, discriminator_loss, generator_loss
from .training import History, train_players

__all__ = ["paired_discriminator_step", "paired_generator_step", "make_paired_step", "train_paired", "train_sr"]


def paired_discriminator_step(
    generator: nn.Module,
    discriminator: nn.Module,
    optimizer: torch.optim.Optimizer,
    x_in: torch.Tensor,
    x: torch.Tensor,
    *,
    kind: str = "non-saturating",
    conditional: bool = True,
) -> dict[str, torch.Tensor]:
    r"""Stage 1 (chapters 4 and 9): D learns real pairs (x_in, x) from fake pairs (x_in, G(x_in)); G untouched.

    D minimizes ``discriminator_loss(l(x_in, x), l(x_in, G(x_in)), kind)`` averaged over images and patches:
    for the BCE kinds, it maximizes log D(x_in, x) + log(1 - D(x_in, G(x_in))). ``conditional=False``: D sees
    the images alone (chapter 10).
    """
    cond = (x_in,) if conditional else ()
    with torch.no_grad():  # G's output as a constant: nothing to backpropagate into G
        x_fake = generator(x_in)
    real_logits, fake_logits = discriminator(x, *cond), discriminator(x_fake, *cond)
    loss = discriminator_loss(real_logits, fake_logits, kind).mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return {"loss_d": loss.detach(), "d_real": torch.sigmoid(real_logits.detach()).mean(),
            "d_fake": torch.sigmoid(fake_logits.detach()).mean()}


def paired_generator_step(
    generator: nn.Module,
    discriminator: nn.Module | None,
    optimizer: torch.optim.Optimizer,
    x_in: torch.Tensor,
    x: torch.Tensor,
    *,
    pixel_loss: str = "l1",
    pixel_weight: float = 100.0,
    adversarial_weight: float = 1.0,
    kind: str = "non-saturating",
    conditional: bool = True,
) -> dict[str, torch.Tensor]:
    r"""Stage 2 (chapter 9): one step of G on pixel_weight * pixel(G(x_in), x) + adversarial_weight * adv.

    adv = ``generator_loss(l(x_in, G(x_in)), kind)``, through a frozen D. With ``discriminator=None`` or
    ``adversarial_weight=0`` this is plain supervised regression on the pixel loss.
    """
    use_d = discriminator is not None and adversarial_weight > 0
    x_hat = generator(x_in)
    pixel = PIXEL_LOSSES[pixel_loss](x_hat, x)
    logged = {pixel_loss: pixel.detach()}
    loss = pixel_weight * pixel
    if use_d:
        with frozen(discriminator):
            adversarial = generator_loss(discriminator(x_hat, *((x_in,) if conditional else ())), kind).mean()
        loss = loss + adversarial_weight * adversarial
        logged["loss_g"] = adversarial.detach()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return logged


def make_paired_step(
    generator: nn.Module,
    discriminator: nn.Module | None,
    optimizer_g: torch.optim.Optimizer,
    optimizer_d: torch.optim.Optimizer | None,
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
    *,
    pixel_loss: str = "l1",
    pixel_weight: float = 100.0,
    adversarial_weight: float = 1.0,
    kind: str = "non-saturating",
    conditional: bool = True,
) -> Callable[[int], dict[str, torch.Tensor]]:
    """The ``step(i)`` of a paired image-to-image GAN for :func:`train_loop`: one D update, then one G update.

    ``batches`` yields ``(x_in, x)``. Without a discriminator (or with ``adversarial_weight=0``) only G steps.
    """
    if pixel_loss not in PIXEL_LOSSES:
        raise ValueError(f"unknown pixel loss {pixel_loss!r}; choose one of: {', '.join(PIXEL_LOSSES)}")
    use_d = discriminator is not None and adversarial_weight > 0
    if use_d and optimizer_d is None:
        raise ValueError("a discriminator needs its optimizer: pass optimizer_d")

    def step(i: int) -> dict[str, torch.Tensor]:
        x_in, x = next(batches)
        logged = {}
        if use_d:  # (1) Update D: maximize log D(x_in, x) + log(1 - D(x_in, G(x_in))); only D steps
            logged |= paired_discriminator_step(generator, discriminator, optimizer_d, x_in, x, kind=kind,
                                                conditional=conditional)
        # (2) Update G: minimize lambda * pixel(G(x_in), x) - log D(x_in, G(x_in)); D frozen, only G steps
        logged |= paired_generator_step(generator, discriminator if use_d else None, optimizer_g, x_in, x,
                                        pixel_loss=pixel_loss, pixel_weight=pixel_weight,
                                        adversarial_weight=adversarial_weight, kind=kind, conditional=conditional)
        return logged

    return step


def train_paired(
    generator: nn.Module,
    discriminator: nn.Module | None,
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
    num_steps: int,
    *,
    lr: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    decay_lr: bool = False,
    decay_start: float = 0.5,
    **step_and_loop_kwargs,
) -> History:
    """Adam (same ``lr`` for both players, as in pix2pix) and :func:`make_paired_step` repeated by
    :func:`train_loop`; returns the history. ``discriminator=None``: the pixel loss alone.

    ``decay_lr`` lowers the learning rates linearly to zero from step ``decay_start * num_steps`` (pix2pix
    keeps the rate for the first half of training and decays it over the second). Keyword arguments of
    :func:`make_paired_step` and of :func:`train_loop` pass through.
    """
    step_keys = {"pixel_loss", "pixel_weight", "adversarial_weight", "kind", "conditional"}
    step_kwargs = {k: v for k, v in step_and_loop_kwargs.items() if k in step_keys}
    loop_kwargs = {k: v for k, v in step_and_loop_kwargs.items() if k not in step_keys}

    def make_step(optimizer_g: torch.optim.Optimizer, optimizer_d: torch.optim.Optimizer | None) -> Callable:
        return make_paired_step(generator, discriminator, optimizer_g, optimizer_d, batches, **step_kwargs)

    return train_players(generator, discriminator, make_step, num_steps, lr_g=lr, lr_d=lr, betas=betas,
                         decay_lr=decay_lr, decay_start=decay_start, **loop_kwargs)


def train_sr(
    model: nn.Module,
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
    num_steps: int,
    content_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    *,
    adversarial_weight: float = 1e-2,
    kind: str = "non-saturating",
    lr: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    decay_lr: bool = False,
    decay_start: float = 0.5,
    **loop_kwargs,
) -> History:
    r"""Chapter 10's super-resolution GAN (``genmodels.models.SRGAN``, or anything with ``generator`` and
    ``discriminator``) trained with chapter 9's paired step and any content loss: L_G = content(G(x_lr), x) + w_adv * (-log D(G(x_lr))).

    D sees high-resolution images alone (``conditional=False``) and is updated first, as in
    :func:`genmodels.paired_training.make_paired_step`; ``adversarial_weight=0`` trains G alone. Returns the
    history (``content``, and ``loss_d``, ``d_real``, ``d_fake``, ``loss_g`` with a discriminator).
    """
    generator = model.generator
    discriminator = model.discriminator if adversarial_weight > 0 else None

    def make_step(optimizer_g: torch.optim.Optimizer, optimizer_d: torch.optim.Optimizer | None) -> Callable:
        def step(i: int) -> dict[str, torch.Tensor]:
            x_lr, x = next(batches)
            logged = {}
            if discriminator is not None:  # (1) Update D: maximize log D(x) + log(1 - D(G(x_lr)))
                logged |= paired_discriminator_step(generator, discriminator, optimizer_d, x_lr, x, kind=kind,
                                                    conditional=False)
            # (2) Update G: minimize content(G(x_lr), x) + w_adv * (-log D(G(x_lr))); D frozen
            x_hat = generator(x_lr)
            content = content_loss(x_hat, x)
            loss, logged["content"] = content, content.detach()
            if discriminator is not None:
                with frozen(discriminator):
                    adversarial = generator_loss(discriminator(x_hat), kind).mean()
                loss, logged["loss_g"] = loss + adversarial_weight * adversarial, adversarial.detach()
            optimizer_g.zero_grad(set_to_none=True)
            loss.backward()
            optimizer_g.step()
            return logged

        return step

    return train_players(generator, discriminator, make_step, num_steps, lr_g=lr, lr_d=lr, betas=betas,
                         decay_lr=decay_lr, decay_start=decay_start, **loop_kwargs)
