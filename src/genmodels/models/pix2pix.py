r"""pix2pix (Isola et al., 2017) for 28 x 28 digits, chapter 9: a U-Net generator and a PatchGAN discriminator.

Image-to-image translation learns :math:`G: x_{in} \mapsto \hat{x}` from pairs :math:`(x_{in}, x)` (here:
the edge map of a digit and the digit). The generator minimizes a pixel loss plus an adversarial one,

.. math:: \mathcal{L}_G = \lambda \, \lVert x - G(x_{in}) \rVert_1 + \mathcal{L}_{adv}\big(D(x_{in}, G(x_{in}))\big),

the pixel loss pulling every output toward *its* target, the discriminator toward *a* plausible image.
The training step, which chapter 10's super-resolution GAN reuses, is in :mod:`genmodels.paired_training`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..imaging import EDGE_SIGMA
from .config import Config

__all__ = [
    "OBJECTIVES",
    "Pix2PixConfig",
    "UNetGenerator",
    "PatchDiscriminator",
    "Pix2Pix",
]


# The three objectives chapter 9 compares: name -> (pixel loss, is the PatchGAN's adversarial loss added?)
OBJECTIVES: dict[str, tuple[str, bool]] = {"l2": ("mse", False), "l1": ("l1", False), "l1+gan": ("l1", True)}


@dataclass
class Pix2PixConfig(Config):
    """The U-Net and the PatchGAN of chapter 9, cut down for 28 x 28 digits on a CPU.

    The U-Net has three levels, 28 -> 14 -> 7 pixels, ``channels`` wide at 28 x 28 and twice as wide at each
    level below. The PatchGAN has two strided convolutions and a 3 x 3 output convolution: one logit per
    18 x 18 patch, on a 7 x 7 grid. ``loss`` names the objective the command line trains (:data:`OBJECTIVES`).
    The generator has no noise input and no dropout (pix2pix keeps dropout on at test time as its noise).
    """

    in_channels: int = 1  # the condition x_in (an edge map)
    out_channels: int = 1  # the output image (a digit)
    channels: int = 8  # U-Net width at 28 x 28 (16 at 14 x 14, 32 at 7 x 7)
    d_channels: int = 16  # PatchGAN width of the first layer (32 in the second)
    edge_sigma: float = EDGE_SIGMA  # the inputs: Canny edges after a blur of this many pixels (chapter 9)
    loss: str = "l1+gan"  # the training objective, a key of OBJECTIVES

    def __post_init__(self) -> None:
        if self.loss not in OBJECTIVES:
            raise ValueError(f"unknown pix2pix loss {self.loss!r}; choose one of: {'|'.join(OBJECTIVES)}")


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
