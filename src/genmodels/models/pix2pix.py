r"""pix2pix (Isola et al., 2017) for 28 x 28 digits, chapter 9: a U-Net generator, a PatchGAN discriminator,
and the paired training step that chapter 10's super-resolution GAN reuses.

Image-to-image translation learns :math:`G: x_{in} \mapsto \hat{x}` from pairs :math:`(x_{in}, x)` (here:
the edge map of a digit and the digit). The generator minimizes a pixel loss plus an adversarial one,

.. math:: \mathcal{L}_G = \lambda \, \lVert x - G(x_{in}) \rVert_1 + \mathcal{L}_{adv}\big(D(x_{in}, G(x_{in}))\big),

the pixel loss pulling every output toward *its* target, the discriminator toward *a* plausible image.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..gan_training import frozen, train_players
from ..losses import discriminator_loss, generator_loss
from ..training import History

__all__ = [
    "Pix2PixConfig",
    "UNetGenerator",
    "PatchDiscriminator",
    "Pix2Pix",
    "PIXEL_LOSSES",
    "paired_discriminator_step",
    "paired_generator_step",
    "make_paired_step",
    "train_paired",
    "PIX2PIX_RECIPE",
    "EDGE_SIGMA",
]


@dataclass
class Pix2PixConfig:
    """The U-Net and the PatchGAN of chapter 9, cut down for 28 x 28 digits on a CPU.

    The U-Net has three levels, 28 -> 14 -> 7 pixels, ``channels`` wide at 28 x 28 and twice as wide at each
    level below. The PatchGAN has two strided convolutions and a 3 x 3 output convolution: one logit per
    18 x 18 patch, on a 7 x 7 grid.
    """

    in_channels: int = 1  # the condition x_in (an edge map)
    out_channels: int = 1  # the output image (a digit)
    channels: int = 8  # U-Net width at 28 x 28 (16 at 14 x 14, 32 at 7 x 7)
    d_channels: int = 16  # PatchGAN width of the first layer (32 in the second)


def _down(n_in: int, n_out: int, norm: bool = True) -> nn.Sequential:
    """Halve the height and width: 4 x 4 convolution, stride 2 (+ batch norm) + LeakyReLU(0.2), as in pix2pix."""
    layers: list[nn.Module] = [nn.Conv2d(n_in, n_out, 4, stride=2, padding=1)]
    layers += [nn.BatchNorm2d(n_out)] if norm else []
    return nn.Sequential(*layers, nn.LeakyReLU(0.2))


def _up(n_in: int, n_out: int) -> nn.Sequential:
    """Double the height and width: 4 x 4 transposed convolution, stride 2 + batch norm + ReLU."""
    return nn.Sequential(nn.ConvTranspose2d(n_in, n_out, 4, stride=2, padding=1), nn.BatchNorm2d(n_out), nn.ReLU())


class UNetGenerator(nn.Module):
    """G: x_in (B, in_channels, 28, 28) -> x_hat (B, out_channels, 28, 28) in [0, 1] (Ronneberger et al., 2015).

    An encoder halves the resolution twice, a decoder doubles it back, and every decoder level is
    concatenated with the encoder features of the same size (the skip connections): fine detail such as
    where exactly a stroke runs crosses straight over, without squeezing through the 7 x 7 bottleneck.
    """

    def __init__(self, config: Pix2PixConfig | None = None):
        super().__init__()
        self.config = c = config or Pix2PixConfig()
        ch = c.channels
        self.enc0 = nn.Sequential(nn.Conv2d(c.in_channels, ch, 3, padding=1), nn.LeakyReLU(0.2))  # (B, ch, 28, 28)
        self.enc1 = _down(ch, 2 * ch)  # (B, 2ch, 14, 14)
        self.enc2 = _down(2 * ch, 4 * ch)  # (B, 4ch, 7, 7)
        self.bottleneck = nn.Sequential(  # two 3 x 3 convolutions at 7 x 7: a view of the whole digit
            nn.Conv2d(4 * ch, 4 * ch, 3, padding=1), nn.BatchNorm2d(4 * ch), nn.ReLU(),
            nn.Conv2d(4 * ch, 4 * ch, 3, padding=1), nn.BatchNorm2d(4 * ch), nn.ReLU(),
        )
        self.dec2 = _up(8 * ch, 2 * ch)  # [bottleneck, enc2] (B, 8ch, 7, 7) -> (B, 2ch, 14, 14)
        self.dec1 = _up(4 * ch, ch)  # [dec2, enc1] (B, 4ch, 14, 14) -> (B, ch, 28, 28)
        self.out = nn.Conv2d(2 * ch, c.out_channels, 3, padding=1)  # [dec1, enc0] (B, 2ch, 28, 28) -> (B, out, 28, 28)
        nn.init.constant_(self.out.bias, -2.0)  # start near paper, sigmoid(-2) = 0.12: most pixels of a digit are 0

    def forward(self, x_in: torch.Tensor) -> torch.Tensor:
        e0 = self.enc0(x_in)  # (B, ch, 28, 28)
        e1 = self.enc1(e0)  # (B, 2ch, 14, 14)
        e2 = self.enc2(e1)  # (B, 4ch, 7, 7)
        h = self.bottleneck(e2)  # (B, 4ch, 7, 7)
        h = self.dec2(torch.cat([h, e2], dim=1))  # skip: (B, 8ch, 7, 7) -> (B, 2ch, 14, 14)
        h = self.dec1(torch.cat([h, e1], dim=1))  # skip: (B, 4ch, 14, 14) -> (B, ch, 28, 28)
        return torch.sigmoid(self.out(torch.cat([h, e0], dim=1)))  # skip: -> (B, out, 28, 28)


class PatchDiscriminator(nn.Module):
    """D: (x (B, out_channels, H, W), x_in (B, in_channels, H, W)) -> logits (B, H/4, W/4), one per patch.

    A PatchGAN (Isola et al., 2017): a fully convolutional classifier that says "real" or "fake" for every
    ``receptive_field`` x ``receptive_field`` patch of the pair (x_in, x), stacked on the channel axis.
    It judges texture and local structure; the pixel loss takes care of the large scale. With
    ``in_channels=0`` it is unconditional: it sees x alone.
    """

    # (kernel, stride) of each convolution: receptive_field follows from these
    LAYERS = ((4, 2), (4, 2), (3, 1))

    def __init__(self, config: Pix2PixConfig | None = None):
        super().__init__()
        self.config = c = config or Pix2PixConfig()
        ch = c.d_channels
        self.net = nn.Sequential(
            _down(c.in_channels + c.out_channels, ch, norm=False),  # (B, ch, H/2, W/2), no norm on the input layer
            _down(ch, 2 * ch, norm=False),  # (B, 2ch, H/4, W/4); no batch norm in D (chapter 4)
            nn.Conv2d(2 * ch, 1, 3, padding=1),  # (B, 1, H/4, W/4): a logit per patch
        )

    @classmethod
    def receptive_field(cls) -> int:
        """Side in pixels of the input patch that one output logit sees: r = 1 + sum_l (k_l - 1) prod_{m<l} s_m."""
        size, jump = 1, 1
        for kernel, stride in cls.LAYERS:
            size += (kernel - 1) * jump
            jump *= stride
        return size

    def forward(self, x: torch.Tensor, x_in: torch.Tensor | None = None) -> torch.Tensor:
        pair = x if x_in is None else torch.cat([x_in, x], dim=1)  # (B, in + out, H, W)
        return self.net(pair).squeeze(1)  # (B, H/4, W/4)


class Pix2Pix(nn.Module):
    """The generator and its discriminator in one module (one checkpoint), for the command line."""

    def __init__(self, config: Pix2PixConfig | None = None):
        super().__init__()
        self.config = config or Pix2PixConfig()
        self.generator = UNetGenerator(self.config)
        self.discriminator = PatchDiscriminator(self.config)

    @torch.no_grad()
    def translate(self, x_in: torch.Tensor) -> torch.Tensor:
        """G(x_in) in eval mode: (B, in_channels, 28, 28) -> (B, out_channels, 28, 28)."""
        was_training = self.generator.training
        self.generator.eval()
        out = self.generator(x_in.to(next(self.parameters()).device))
        self.generator.train(was_training)
        return out


# ------------------------------------------------------------------------- the paired training step
PIXEL_LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "l1": F.l1_loss,  # mean |x_hat - x|: pix2pix
    "mse": F.mse_loss,  # mean (x_hat - x)^2: the SRResNet / "SRGAN-MSE" content loss of chapter 10
}


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


# pix2pix's recipe (Isola et al., 2017): Adam with beta_1 = 0.5, the rate decayed over the second half, L1 weighted
# by lambda against the adversarial loss. The paper's lambda = 100 (images in [-1, 1], 200 epochs) leaves the
# adversarial term with almost no effect in our ~1,000 steps; chapter 9 uses lambda = 10. Batches of 64 and a
# rate of 1e-3 (not 2e-4) fit a CPU budget.
PIX2PIX_RECIPE: dict = {
    "batch_size": 64, "lr": 1e-3, "betas": (0.5, 0.999), "decay_lr": True, "decay_start": 0.5,
    "pixel_loss": "l1", "pixel_weight": 10.0, "adversarial_weight": 1.0, "kind": "non-saturating",
}

# The sketches of chapter 9: Canny edges after a Gaussian blur of this standard deviation (pixels). At 1 the
# outline follows every detail of the stroke; at 2.5 it is a rough sketch that leaves the digit's holes out.
EDGE_SIGMA = 2.5
