r"""An attribute-conditioned GAN in the style of AC-GAN (Odena et al., 2017), for 28x28 digits (chapter 8).

The generator is asked for a class ``y`` and for continuous attributes ``a`` (standardized stroke thickness
and slant, measured by :mod:`genmodels.attributes`): :math:`\hat{x} = G(z, y, a)`.
The discriminator sees only the image and answers three questions with three heads on shared features:

* ``logit``: real or generated (the adversarial game of chapter 4);
* ``class_logits``: which digit is it (an auxiliary classifier, cross-entropy);
* ``attributes``: how thick and how slanted is it (an auxiliary regressor, squared error).

D learns the auxiliary tasks on real digits (their labels and *measured* attributes), and, if
``fake_aux_weight`` > 0 as in the paper, on generated ones (the *requested* labels and attributes); G is
trained to fool D and to make D's auxiliary heads read back what was requested. The lecture notes' faces
example is the same design with age in place of thickness: "the discriminator also checking age".

The losses are :func:`genmodels.losses.acgan_discriminator_loss` and :func:`genmodels.losses.acgan_generator_loss`,
the training step :func:`genmodels.gan_training.make_acgan_step`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from .config import Config
from .gan import DCDiscriminator, DCGANConfig, DCGenerator, sample_latent

__all__ = [
    "ACGANConfig",
    "ACGenerator",
    "ACDiscriminator",
    "ACOutput",
    "ACGAN",
]


@dataclass
class ACGANConfig(Config):
    """Sizes and loss weights of the attribute-conditioned GAN (chapter 8).

    ``attributes`` names what :func:`genmodels.attributes.measure_attributes` measures, in order.
    ``class_weight`` and ``attribute_weight`` weigh the auxiliary losses against the adversarial one;
    ``fake_aux_weight`` weighs D's auxiliary losses on generated images: 1 is Odena et al.'s AC-GAN; the
    default 0 trains D's heads on real digits only, so they stay a measuring instrument that G cannot
    co-opt (chapter 8 explains).
    """

    latent_dim: int = 64
    channels: int = 32
    num_classes: int = 10
    attributes: tuple[str, ...] = ("thickness", "slant")
    class_weight: float = 1.0
    attribute_weight: float = 1.0
    fake_aux_weight: float = 0.0

    @property
    def num_attributes(self) -> int:
        return len(self.attributes)


class ACOutput(NamedTuple):
    """The discriminator's three heads: ``logit`` (B,), ``class_logits`` (B, C), ``attributes`` (B, K)."""

    logit: torch.Tensor
    class_logits: torch.Tensor
    attributes: torch.Tensor


class ACGenerator(nn.Module):
    """G: (z (B, latent_dim), y (B,), a (B, K)) -> x_hat (B, 1, 28, 28); the DCGAN generator on [z, one_hot(y), a]."""

    def __init__(self, config: ACGANConfig | None = None):
        super().__init__()
        self.config = c = config or ACGANConfig()
        in_dim = c.latent_dim + c.num_classes + c.num_attributes
        self.body = DCGenerator(DCGANConfig(c.latent_dim, c.channels), in_dim=in_dim)

    def forward(self, z: torch.Tensor, y: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        c = self.config
        if a.shape != (len(z), c.num_attributes):
            raise ValueError(f"attributes must have shape (B, {c.num_attributes}) = {(len(z), c.num_attributes)}, "
                             f"got {tuple(a.shape)}")
        one_hot = F.one_hot(y, c.num_classes).to(z.dtype)  # (B, C)
        return self.body(torch.cat([z, one_hot, a.to(z.dtype)], dim=1))  # (B, 1, 28, 28)


class ACDiscriminator(nn.Module):
    """D: x (B, 1, 28, 28) -> :class:`ACOutput`: the DCGAN discriminator's features with three linear heads."""

    def __init__(self, config: ACGANConfig | None = None):
        super().__init__()
        self.config = c = config or ACGANConfig()
        self.body = DCDiscriminator(DCGANConfig(c.latent_dim, c.channels))  # body.head: the real/fake logit
        num_features = 2 * c.channels * 7 * 7
        self.class_head = nn.Linear(num_features, c.num_classes)
        self.attribute_head = nn.Linear(num_features, c.num_attributes)

    def forward(self, x: torch.Tensor) -> ACOutput:
        h = self.body.features(x)  # (B, F)
        return ACOutput(self.body.head(h).squeeze(1), self.class_head(h), self.attribute_head(h))


# ---------------------------------------------------------------------------- the pair, for the CLI
class ACGAN(nn.Module):
    """Generator, discriminator and the attribute standardization (buffers) in one module, one checkpoint."""

    def __init__(self, config: ACGANConfig | None = None):
        super().__init__()
        self.config = c = config or ACGANConfig()
        self.generator, self.discriminator = ACGenerator(c), ACDiscriminator(c)
        # raw attribute = a * attribute_std + attribute_mean; set from the training data before training
        self.register_buffer("attribute_mean", torch.zeros(c.num_attributes))
        self.register_buffer("attribute_std", torch.ones(c.num_attributes))

    @torch.no_grad()
    def sample(
        self,
        num_samples: int,
        labels: torch.Tensor | None = None,
        attributes: torch.Tensor | None = None,
        rng: torch.Generator | None = None,
    ) -> torch.Tensor:
        """G(z, y, a) for z ~ N(0, I); labels uniform and standardized attributes ~ N(0, I) unless given."""
        c = self.config
        device = self.attribute_mean.device
        z = sample_latent(num_samples, c.latent_dim, rng, device)
        if labels is None:
            labels = torch.randint(c.num_classes, (num_samples,), generator=rng)
        if attributes is None:
            attributes = torch.randn(num_samples, c.num_attributes, generator=rng).clamp(-2, 2)
        return self.generator(z, labels.to(device), attributes.to(device))
