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
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from ..gan_training import frozen, train_players
from ..losses import discriminator_loss, generator_loss
from ..training import History
from .gan import DCDiscriminator, DCGANConfig, DCGenerator, sample_latent

__all__ = [
    "ACGANConfig",
    "ACGenerator",
    "ACDiscriminator",
    "ACOutput",
    "ACGAN",
    "auxiliary_class_loss",
    "auxiliary_attribute_loss",
    "acgan_discriminator_loss",
    "acgan_generator_loss",
    "make_acgan_step",
    "train_acgan",
    "ACGAN_RECIPE",
]


@dataclass
class ACGANConfig:
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


# ----------------------------------------------------------------------------------------- losses
def auxiliary_class_loss(class_logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""-log p_D(y | x) = -log softmax(class_logits)_y per example: (B, C), (B,) -> (B,)."""
    return F.cross_entropy(class_logits, y, reduction="none")


def auxiliary_attribute_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""||a_hat - a||^2 summed over the K attributes, per example: (B, K), (B, K) -> (B,)."""
    return (predicted - target).pow(2).sum(dim=1)


def acgan_discriminator_loss(
    real: ACOutput,
    fake: ACOutput,
    y_real: torch.Tensor,
    a_real: torch.Tensor,
    y_fake: torch.Tensor,
    a_fake: torch.Tensor,
    config: ACGANConfig,
    kind: str = "non-saturating",
) -> dict[str, torch.Tensor]:
    r"""What D minimizes (chapter 8), batch means; ``"loss"`` is the total, the rest are logged.

    L_D = adv(l(x), l(x_hat)) + lambda_c [CE(x, y) + w_f CE(x_hat, y')] + lambda_a [SE(x, a) + w_f SE(x_hat, a')]

    with (y, a) the real digit's label and measured attributes, (y', a') those requested from G, and
    w_f = ``config.fake_aux_weight``.
    """
    adversarial = discriminator_loss(real.logit, fake.logit, kind).mean()
    class_real = auxiliary_class_loss(real.class_logits, y_real).mean()
    class_fake = auxiliary_class_loss(fake.class_logits, y_fake).mean()
    attr_real = auxiliary_attribute_loss(real.attributes, a_real).mean()
    attr_fake = auxiliary_attribute_loss(fake.attributes, a_fake).mean()
    w = config.fake_aux_weight
    loss = (adversarial + config.class_weight * (class_real + w * class_fake)
            + config.attribute_weight * (attr_real + w * attr_fake))
    return {"loss": loss, "loss_d": adversarial, "class_real": class_real, "attr_real": attr_real}


def acgan_generator_loss(
    fake: ACOutput, y: torch.Tensor, a: torch.Tensor, config: ACGANConfig, kind: str = "non-saturating"
) -> dict[str, torch.Tensor]:
    r"""What G minimizes (chapter 8), batch means; ``"loss"`` is the total, the rest are logged.

    L_G = adv_G(l(x_hat)) + lambda_c CE(x_hat, y') + lambda_a SE(x_hat, a'), x_hat = G(z, y', a').
    """
    adversarial = generator_loss(fake.logit, kind).mean()
    class_fake = auxiliary_class_loss(fake.class_logits, y).mean()
    attr_fake = auxiliary_attribute_loss(fake.attributes, a).mean()
    loss = adversarial + config.class_weight * class_fake + config.attribute_weight * attr_fake
    return {"loss": loss, "loss_g": adversarial, "class_fake": class_fake, "attr_fake": attr_fake}


# --------------------------------------------------------------------------------------- training
def make_acgan_step(
    generator: ACGenerator,
    discriminator: ACDiscriminator,
    optimizer_g: torch.optim.Optimizer,
    optimizer_d: torch.optim.Optimizer,
    batches: Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    *,
    kind: str = "non-saturating",
    noise: torch.Generator | None = None,
) -> Callable[[int], dict[str, torch.Tensor]]:
    """The two-stage ``step(i)`` of chapter 4 with the auxiliary losses; for :func:`train_loop`.

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
        logged = {k: v.detach() for k, v in {**losses_d, **losses_g}.items() if k != "loss"}
        return logged

    return step


def train_acgan(
    generator: ACGenerator,
    discriminator: ACDiscriminator,
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
    """Adam for both players and :func:`make_acgan_step` repeated by :func:`train_loop` (as ``train_gan``)."""
    def make_step(optimizer_g: torch.optim.Optimizer, optimizer_d: torch.optim.Optimizer) -> Callable:
        return make_acgan_step(generator, discriminator, optimizer_g, optimizer_d, batches, kind=kind,
                               noise=torch.Generator().manual_seed(seed))

    return train_players(generator, discriminator, make_step, num_steps, lr_g=lr_g, lr_d=lr_d, betas=betas,
                         decay_lr=decay_lr, decay_start=decay_start, **loop_kwargs)


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
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """G(z, y, a) for z ~ N(0, I); labels uniform and standardized attributes ~ N(0, I) unless given."""
        c = self.config
        device = self.attribute_mean.device
        z = sample_latent(num_samples, c.latent_dim, generator, device)
        if labels is None:
            labels = torch.randint(c.num_classes, (num_samples,), generator=generator)
        if attributes is None:
            attributes = torch.randn(num_samples, c.num_attributes, generator=generator).clamp(-2, 2)
        return self.generator(z, labels.to(device), attributes.to(device))


# The training recipe of chapter 8 and the CLI: chapter 4's image recipe (batches of 64, Adam at 1e-3 with
# beta_1 = 0.5 for both players, the learning rate decayed linearly to 0).
ACGAN_RECIPE: dict = {"batch_size": 64, "kind": "non-saturating", "lr_g": 1e-3, "lr_d": 1e-3, "decay_lr": True}
