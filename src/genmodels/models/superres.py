r"""Super-resolution for digits, chapter 10: 7 x 7 -> 28 x 28 with an SRResNet-style generator (Ledig et al., 2017).

The generator works at the low resolution with residual blocks, then doubles the size twice with
sub-pixel convolutions (Shi et al., 2016: a convolution to 4 C channels, rearranged into a 2x larger image of
C channels by ``nn.PixelShuffle``). Trained on a pixel loss alone it is "SRResNet"; with an added adversarial
loss against chapter 4's DCGAN discriminator it is an SRGAN. Training uses chapter 9's paired step;
:func:`genmodels.paired_training.train_sr` is the same step with any content loss, e.g. SRGAN's feature loss
(:class:`FeatureContentLoss`, a frozen classifier's feature map in place of VGG's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..losses import feature_loss
from .config import Config
from .gan import DCDiscriminator, DCGANConfig

__all__ = ["SRConfig", "ResidualBlock", "SRGenerator", "SRGAN", "FeatureContentLoss"]


@dataclass
class SRConfig(Config):
    """An SRResNet cut down for digits on a CPU: ``num_blocks`` residual blocks of ``channels`` at low resolution."""

    scale: int = 4  # a power of 2: 7 x 7 -> 28 x 28
    channels: int = 32
    num_blocks: int = 4
    d_channels: int = 16  # width of chapter 4's DCGAN discriminator (28 x 28 images only)


class ResidualBlock(nn.Module):
    """x + conv-BN-PReLU-conv-BN(x): the block of SRResNet (shape unchanged)."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.PReLU(channels),
            nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels),
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.body(h)


class SRGenerator(nn.Module):
    """G: x_lr (B, 1, h, w) -> x_hat (B, 1, scale h, scale w) in [0, 1].

    head conv -> residual blocks (+ a long skip) -> log2(scale) sub-pixel upsamplings -> output conv.
    Each upsampling halves the channels, so the full-resolution layers stay cheap.
    """

    def __init__(self, config: SRConfig | None = None):
        super().__init__()
        self.config = c = config or SRConfig()
        num_ups = int(math.log2(c.scale))
        if c.scale < 2 or 2**num_ups != c.scale:
            raise ValueError(f"scale must be a power of 2 (2, 4, 8, ...), got {c.scale}")
        ch = c.channels
        self.head = nn.Sequential(nn.Conv2d(1, ch, 3, padding=1), nn.PReLU(ch))  # (B, ch, h, w)
        self.blocks = nn.Sequential(*[ResidualBlock(ch) for _ in range(c.num_blocks)],
                                    nn.Conv2d(ch, ch, 3, padding=1), nn.BatchNorm2d(ch))
        ups: list[nn.Module] = []
        for i in range(num_ups):  # (B, C, s, s) -> conv (B, 4 C', s, s) -> shuffle (B, C', 2s, 2s), C' = C / 2
            n_in, n_out = ch // 2**i, max(ch // 2 ** (i + 1), 4)
            ups += [nn.Conv2d(n_in, 4 * n_out, 3, padding=1), nn.PixelShuffle(2), nn.PReLU(n_out)]
        self.upsample = nn.Sequential(*ups)
        self.out = nn.Conv2d(max(ch // 2**num_ups, 4), 1, 3, padding=1)
        nn.init.constant_(self.out.bias, -2.0)  # start near paper, sigmoid(-2) = 0.12: most pixels of a digit are 0

    def forward(self, x_lr: torch.Tensor) -> torch.Tensor:
        h = self.head(x_lr)  # (B, ch, h, w)
        h = h + self.blocks(h)  # long skip around the residual blocks
        return torch.sigmoid(self.out(self.upsample(h)))  # (B, 1, scale h, scale w)


class SRGAN(nn.Module):
    """The SR generator and a DCGAN discriminator (chapter 4) on the 28 x 28 outputs, one checkpoint for the CLI.

    As in SRGAN, D sees the high-resolution image alone (not the low-resolution input): it judges whether
    the digit looks real, and the pixel loss ties the output to its input.
    """

    def __init__(self, config: SRConfig | None = None):
        super().__init__()
        self.config = c = config or SRConfig()
        self.generator = SRGenerator(c)
        self.discriminator = DCDiscriminator(DCGANConfig(channels=c.d_channels))

    @torch.no_grad()
    def upscale(self, x_lr: torch.Tensor) -> torch.Tensor:
        """G(x_lr) in eval mode: (B, 1, 7, 7) -> (B, 1, 28, 28)."""
        was_training = self.generator.training
        self.generator.eval()
        out = self.generator(x_lr.to(next(self.parameters()).device))
        self.generator.train(was_training)
        return out


class FeatureContentLoss(nn.Module):
    r"""SRGAN's perceptual content loss: mean (phi(G(x_lr)) - phi(x))^2 with phi a frozen network's features.

    ``features`` is phi, e.g. the first layers of a digit classifier trained apart from the judge (Ledig et al.
    use VGG19's feature maps). Its weights are frozen (``requires_grad=False``, eval mode) when wrapped, so
    the loss trains only the network that made ``x_hat``.
    """

    def __init__(self, features: nn.Module):
        super().__init__()
        self.features = features.eval().requires_grad_(False)

    def train(self, mode: bool = True) -> FeatureContentLoss:
        return super().train(False)  # phi stays in eval mode (no dropout or batch-norm updates) for good

    def forward(self, x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return feature_loss(self.features, x_hat, x)
