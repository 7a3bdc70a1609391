r"""Generators and discriminators of chapters 4-5: MLPs for the 2-D toys, a DCGAN and a conditional GAN for MNIST.

A generator maps noise to data, :math:`G: z \mapsto \hat{x}` with :math:`z \sim \mathcal{N}(0, I)`.
A discriminator maps data to one **logit** :math:`\ell(x)`, so that :math:`D(x) = \sigma(\ell(x))` is the
probability that ``x`` is real. Every loss in :mod:`genmodels.losses` takes logits, never probabilities:
``log(sigmoid(l))`` is computed as ``-softplus(-l)``, which stays finite when D is certain.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import Config
from .layers import mlp

__all__ = [
    "MLPGANConfig",
    "MLPGenerator",
    "MLPDiscriminator",
    "DCGANConfig",
    "DCGenerator",
    "DCDiscriminator",
    "CGANConfig",
    "ConditionalGenerator",
    "ConditionalDiscriminator",
    "GAN",
    "sample_latent",
]


def sample_latent(
    num_samples: int, latent_dim: int, rng: torch.Generator | None = None, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """z ~ N(0, I): (num_samples, latent_dim), drawn on the CPU (same numbers on every device), then moved."""
    return torch.randn(num_samples, latent_dim, generator=rng).to(device)


def minibatch_std(h: torch.Tensor) -> torch.Tensor:
    """The minibatch-standard-deviation feature (Karras et al., 2018): h (B, C, ...) -> (B, 1, ...), every entry
    the standard deviation of h across the batch, averaged over features: how different the batch's items are."""
    spread = h.std(dim=0, unbiased=False).mean()  # one number for the whole batch
    return spread.expand(len(h), 1, *h.shape[2:])


# ------------------------------------------------------------------------------------- 2-D toys (MLP)
@dataclass
class MLPGANConfig(Config):
    """The MLP generator and discriminator of the toy benchmarks (chapter 4, chapter 5's mode collapse).

    ``pack`` > 1 is PacGAN (Lin et al., 2018): D judges ``pack`` samples concatenated, so a batch of
    near-identical fakes is easy to spot. ``minibatch_std`` appends the batch's mean feature standard
    deviation to D's first hidden layer (Karras et al., 2018), another way for D to see a whole batch.
    """

    data_dim: int = 2
    latent_dim: int = 2
    hidden_dim: int = 128
    num_layers: int = 3  # hidden layers of each network
    pack: int = 1
    minibatch_std: bool = False
    batch_norm: bool = False  # batch norm in G's hidden layers, as in the VEEGAN / PacGAN benchmark generator


class MLPGenerator(nn.Module):
    """G: z (B, latent_dim) -> x_hat (B, data_dim), ReLU hidden layers (optionally batch-normed), linear output."""

    def __init__(self, config: MLPGANConfig | None = None):
        super().__init__()
        self.config = c = config or MLPGANConfig()
        layers: list[nn.Module] = []
        for n_in in [c.latent_dim] + [c.hidden_dim] * (c.num_layers - 1):
            layers.append(nn.Linear(n_in, c.hidden_dim))
            layers += [nn.BatchNorm1d(c.hidden_dim)] if c.batch_norm else []
            layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers, nn.Linear(c.hidden_dim, c.data_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """D: x (B, data_dim) -> logits (B // pack,), LeakyReLU(0.2) hidden layers."""

    def __init__(self, config: MLPGANConfig | None = None):
        super().__init__()
        self.config = c = config or MLPGANConfig()
        if c.pack < 1:
            raise ValueError(f"pack must be at least 1, got {c.pack}")
        self.first = nn.Linear(c.data_dim * c.pack, c.hidden_dim)
        extra = 1 if c.minibatch_std else 0
        rest = [c.hidden_dim + extra] + [c.hidden_dim] * (c.num_layers - 1) + [1]
        self.rest = nn.Sequential(nn.LeakyReLU(0.2), mlp(rest, nn.LeakyReLU, negative_slope=0.2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        if len(x) % c.pack:
            raise ValueError(f"a packed discriminator needs a batch divisible by pack={c.pack}, got {len(x)}")
        x = x.reshape(len(x) // c.pack, c.pack * c.data_dim)  # (B / pack, pack * D): pack samples side by side
        h = self.first(x)  # (B', hidden)
        if c.minibatch_std:
            std = h.std(dim=0, unbiased=False).mean()  # one number for the whole batch
            h = torch.cat([h, std.expand(len(h), 1)], dim=1)  # (B', hidden + 1)
        return self.rest(h).squeeze(1)  # (B',)


# ------------------------------------------------------------------------------ MNIST: DCGAN (28 x 28)
@dataclass
class DCGANConfig(Config):
    """A DCGAN (Radford et al., 2016) cut down for 28 x 28 digits on a CPU: two (transposed) convolutions each.

    ``d_batch_norm`` puts batch norm in D's second convolution, as the paper does (not on D's input layer); it
    is off by default so that D(x) of one image does not depend on its batch (chapter 5's gradient penalties).
    """

    latent_dim: int = 64
    channels: int = 16  # width of the 14 x 14 layer; the 7 x 7 layer has twice as many
    d_batch_norm: bool = False
    minibatch_std: bool = False  # D appends the batch's feature spread as one more 7 x 7 map (Karras et al., 2018)


class DCGenerator(nn.Module):
    """G: z (B, latent_dim) -> x_hat (B, 1, 28, 28) in [0, 1]; batch norm and ReLU, sigmoid output."""

    def __init__(self, config: DCGANConfig | None = None, in_dim: int | None = None):
        super().__init__()
        self.config = c = config or DCGANConfig()
        ch = c.channels
        self.project = nn.Sequential(  # in_dim > latent_dim when the generator is conditional
            nn.Linear(in_dim or c.latent_dim, 2 * ch * 7 * 7), nn.BatchNorm1d(2 * ch * 7 * 7), nn.ReLU()
        )
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(2 * ch, ch, 4, stride=2, padding=1), nn.BatchNorm2d(ch), nn.ReLU(),  # (B, ch, 14, 14)
            nn.ConvTranspose2d(ch, 1, 4, stride=2, padding=1), nn.Sigmoid(),  # (B, 1, 28, 28)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z).unflatten(1, (2 * self.config.channels, 7, 7))  # (B, 2ch, 7, 7)
        return self.deconv(h)


class DCDiscriminator(nn.Module):
    """D: x (B, 1, 28, 28) -> logits (B,); strided convolutions with LeakyReLU(0.2), batch norm only if asked.

    Without batch norm (the default) D(x) of one image does not depend on the others in its batch, so the
    gradient penalties of chapter 5 are per-image; ``config.d_batch_norm`` is the DCGAN paper's D (chapter 4).
    """

    def __init__(self, config: DCGANConfig | None = None, in_channels: int = 1):
        super().__init__()
        self.config = c = config or DCGANConfig()
        ch = c.channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, ch, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # (B, ch, 14, 14)
            nn.Conv2d(ch, 2 * ch, 4, stride=2, padding=1),  # (B, 2ch, 7, 7)
            *([nn.BatchNorm2d(2 * ch)] if c.d_batch_norm else []), nn.LeakyReLU(0.2),
            nn.Flatten(),  # (B, 2ch * 49)
        )
        self.head = nn.Linear((2 * ch + c.minibatch_std) * 7 * 7, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)  # (B, 2ch * 49)
        if self.config.minibatch_std:
            h = torch.cat([h, minibatch_std(h.reshape(len(x), -1, 7, 7)).flatten(1)], dim=1)  # (B, (2ch + 1) * 49)
        return self.head(h).squeeze(1)


# ----------------------------------------------------------------------- MNIST: conditional GAN (cGAN)
@dataclass
class CGANConfig(Config):
    """The conditional DCGAN: label + noise -> digit (Mirza & Osindero, 2014), with a projection discriminator.

    G sees ``[z, one_hot(y)]``. D scores ``l(x, y) = w^T h(x) + e_y^T h(x)`` (Miyato & Koyama, 2018): a
    real-vs-fake term plus the agreement between the image features ``h(x)`` and an embedding of the label,
    so "a real 7 labelled 3" is as fake to D as a bad drawing.
    """

    latent_dim: int = 64
    channels: int = 16
    num_classes: int = 10


class ConditionalGenerator(nn.Module):
    """G: (z (B, latent_dim), y (B,)) -> x_hat (B, 1, 28, 28) in [0, 1]."""

    def __init__(self, config: CGANConfig | None = None):
        super().__init__()
        self.config = c = config or CGANConfig()
        self.body = DCGenerator(DCGANConfig(c.latent_dim, c.channels), in_dim=c.latent_dim + c.num_classes)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        one_hot = nn.functional.one_hot(y, self.config.num_classes).to(z.dtype)  # (B, C)
        return self.body(torch.cat([z, one_hot], dim=1))  # (B, 1, 28, 28)


class ConditionalDiscriminator(nn.Module):
    """D: (x (B, 1, 28, 28), y (B,)) -> logits (B,), projection of the label embedding onto the features."""

    def __init__(self, config: CGANConfig | None = None):
        super().__init__()
        self.config = c = config or CGANConfig()
        self.body = DCDiscriminator(DCGANConfig(c.latent_dim, c.channels))
        self.embed = nn.Embedding(c.num_classes, 2 * c.channels * 7 * 7)
        nn.init.normal_(self.embed.weight, std=0.01)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.body.features(x)  # (B, F)
        return self.body.head(h).squeeze(1) + (self.embed(y) * h).sum(dim=1)  # (B,)


# ---------------------------------------------------------------------------- the pair, for the CLI
class GAN(nn.Module):
    """A generator and its discriminator in one module (one checkpoint), built from any of the three configs.

    ``MLPGANConfig`` -> the toy MLPs, ``DCGANConfig`` -> the DCGAN, ``CGANConfig`` -> the conditional DCGAN.
    """

    def __init__(self, config: MLPGANConfig | DCGANConfig | CGANConfig):
        super().__init__()
        self.config = config
        if isinstance(config, MLPGANConfig):
            self.generator, self.discriminator = MLPGenerator(config), MLPDiscriminator(config)
        elif isinstance(config, DCGANConfig):
            self.generator, self.discriminator = DCGenerator(config), DCDiscriminator(config)
        elif isinstance(config, CGANConfig):
            self.generator, self.discriminator = ConditionalGenerator(config), ConditionalDiscriminator(config)
        else:
            raise TypeError(f"expected MLPGANConfig, DCGANConfig or CGANConfig, got {type(config).__name__}")

    @property
    def conditional(self) -> bool:
        return isinstance(self.config, CGANConfig)

    @torch.no_grad()
    def sample(
        self, num_samples: int, labels: torch.Tensor | None = None, rng: torch.Generator | None = None
    ) -> torch.Tensor:
        """``num_samples`` outputs of G for z ~ N(0, I) (and ``labels`` (N,) for the conditional GAN)."""
        device = next(self.parameters()).device
        z = sample_latent(num_samples, self.config.latent_dim, rng, device)
        if not self.conditional:
            return self.generator(z)
        if labels is None:
            labels = torch.randint(self.config.num_classes, (num_samples,), generator=rng)
        return self.generator(z, labels.to(device))
