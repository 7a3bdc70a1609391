r"""Losses as small pure functions of tensors: per-example values, the caller averages.

All values are in nats. For images, "per image" means summed over the 784 pixels.
"""

from __future__ import annotations

import math

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch.nn import functional as F

if TYPE_CHECKING:  # type hints only: losses import no model
    from .models.acgan import ACGANConfig, ACOutput

__all__ = [
    "kl_std_normal",
    "bernoulli_log_likelihood",
    "negative_elbo",
    "elbo_loss",
    "vae_loss",
    "cvae_loss",
    "gaussian_vae_loss",
    "autoencoder_loss",
    "gaussian_log_likelihood",
    "sliced_wasserstein",
    "GAN_LOSSES",
    "discriminator_loss",
    "generator_loss",
    "r1_penalty",
    "gradient_penalty",
    "PIXEL_LOSSES",
    "feature_loss",
    "auxiliary_class_loss",
    "auxiliary_attribute_loss",
    "acgan_discriminator_loss",
    "acgan_generator_loss",
]


def kl_std_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    r"""KL( N(mu, diag(exp(logvar))) || N(0, I) ) per example, (B, k) -> (B,).

    = 1/2 * sum_j ( mu_j^2 + sigma_j^2 - log sigma_j^2 - 1 )
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(dim=1)


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""log p(x | z) = sum_i x_i log p_i + (1 - x_i) log(1 - p_i), p = sigmoid(logits); (B, ...) -> (B,).

    Accepts x in [0, 1] (grey levels act as soft targets, as in pytorch/examples' VAE).
    """
    x = x.reshape(len(x), -1)
    return -F.binary_cross_entropy_with_logits(logits.reshape(len(x), -1), x, reduction="none").sum(dim=1)


def negative_elbo(
    x: torch.Tensor, logits: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, beta: float = 1.0
) -> torch.Tensor:
    r"""-ELBO = beta * KL(q(z|x) || p(z)) - E_q[log p(x|z)] per example (B,), one sample of z."""
    return beta * kl_std_normal(mu, logvar) - bernoulli_log_likelihood(logits, x)


def elbo_loss(
    logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, beta: float = 1.0
) -> dict[str, torch.Tensor]:
    r"""The batch-mean -ELBO of a Bernoulli VAE, nats per image, and its two terms (chapter 3).

    loss = mean( beta * KL(q(z|x) || N(0, I)) - log p(x | z) ), one z per image. ``beta`` weighs the KL term
    (the beta-VAE; 1 is the true ELBO). The logged ``kl`` and ``reconstruction`` are unweighted, so
    ``kl + reconstruction`` is always the -ELBO.
    """
    kl = kl_std_normal(mu, logvar)
    rec = -bernoulli_log_likelihood(logits, x)
    return {"loss": (beta * kl + rec).mean(), "kl": kl.mean(), "reconstruction": rec.mean()}


def vae_loss(
    model: torch.nn.Module, x: torch.Tensor, *_: torch.Tensor, beta: float = 1.0
) -> dict[str, torch.Tensor]:
    """:func:`elbo_loss` of a VAE ``model(x)`` -> (logits, mu, logvar), for :func:`genmodels.training.fit`
    (labels ignored)."""
    logits, mu, logvar = model(x)
    return elbo_loss(logits, x, mu, logvar, beta)


def cvae_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, beta: float = 1.0) -> dict[str, torch.Tensor]:
    """:func:`elbo_loss` of a conditional VAE ``model(x, y)`` -> (logits, mu, logvar): the -ELBO of p(x | y)."""
    logits, mu, logvar = model(x, y)
    return elbo_loss(logits, x, mu, logvar, beta)


def autoencoder_loss(model: torch.nn.Module, x: torch.Tensor, *_: torch.Tensor) -> dict[str, torch.Tensor]:
    """-log p(x | z = e(x)) of a deterministic autoencoder ``model(x)`` -> logits, batch mean (chapters 3, 6).

    The VAE's reconstruction term without the noise and without the KL; labels ignored.
    """
    return {"loss": -bernoulli_log_likelihood(model(x), x).mean()}


def gaussian_log_likelihood(
    x_hat: torch.Tensor, x: torch.Tensor, logvar: torch.Tensor | float = 0.0
) -> torch.Tensor:
    r"""log N(x; x_hat, sigma^2 I) summed over pixels, (B, ...) -> (B,); ``logvar`` = log sigma^2 (chapter 3).

    = -1/2 * sum_i [ (x_i - x_hat_i)^2 / sigma^2 + log sigma^2 + log(2 pi) ].
    With a fixed sigma this is -||x - x_hat||^2 / (2 sigma^2) + a constant: the squared error, scaled.
    ``logvar`` is a number or a tensor that broadcasts against ``x`` (one variance per pixel, say).
    """
    x = x.reshape(len(x), -1)
    x_hat = x_hat.reshape(len(x), -1)
    logvar = torch.as_tensor(logvar, dtype=x.dtype, device=x.device).expand_as(x)
    return -0.5 * ((x - x_hat).pow(2) / logvar.exp() + logvar + math.log(2 * math.pi)).sum(dim=1)


def sliced_wasserstein(
    x: torch.Tensor, y: torch.Tensor, num_projections: int = 64, rng: torch.Generator | None = None
) -> torch.Tensor:
    r"""Squared sliced Wasserstein-2 distance between two samples (N, D) of equal size: a scalar (chapter 2).

    SW^2 = E_theta[ W_2^2(theta^T x, theta^T y) ], theta uniform on the unit sphere. In 1-D the best coupling
    of two samples pairs them in sorted order, W_2^2 = 1/N sum_i (x_(i) - y_(i))^2; for D = 1 this is exact.
    Differentiable in ``x`` and ``y``: a loss that moves samples onto data without any density.
    """
    if x.shape != y.shape or x.dim() != 2:
        raise ValueError(f"need two samples of the same shape (N, D), got {tuple(x.shape)} and {tuple(y.shape)}")
    theta = torch.randn(x.shape[1], num_projections, generator=rng).to(x)
    theta = theta / theta.norm(dim=0, keepdim=True)  # (D, P) unit directions
    x_proj = (x @ theta).sort(dim=0).values  # (N, P), each column sorted
    y_proj = (y @ theta).sort(dim=0).values
    return (x_proj - y_proj).pow(2).mean()


# ------------------------------------------------------------------------------ GANs (chapters 4-5)
GAN_LOSSES = ("minimax", "non-saturating", "wasserstein", "hinge")


def _check_gan_loss(kind: str) -> None:
    if kind not in GAN_LOSSES:
        raise ValueError(f"unknown GAN loss kind {kind!r}; choose one of: {', '.join(GAN_LOSSES)}")


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str = "minimax") -> torch.Tensor:
    r"""What D minimizes, per pair of examples: (B,) and (B,) logits -> (B,). D(x) = sigmoid(logit).

    * ``minimax`` and ``non-saturating`` (chapter 4; the two differ only for G): the binary cross-entropy
      -log D(x) - log(1 - D(G(z))) = softplus(-l_real) + softplus(l_fake), i.e. D *maximizes*
      log D(x) + log(1 - D(G(z))), the notes' formula.
    * ``wasserstein`` (WGAN critic, chapter 5): l_fake - l_real.
    * ``hinge`` (chapter 5): relu(1 - l_real) + relu(1 + l_fake).
    """
    _check_gan_loss(kind)
    if kind in ("minimax", "non-saturating"):
        return F.softplus(-real_logits) + F.softplus(fake_logits)
    if kind == "wasserstein":
        return fake_logits - real_logits
    return F.relu(1 - real_logits) + F.relu(1 + fake_logits)


def generator_loss(fake_logits: torch.Tensor, kind: str = "non-saturating") -> torch.Tensor:
    r"""What G minimizes, per generated example: (B,) logits of D on G(z) -> (B,).

    * ``minimax``: log(1 - D(G(z))) = -softplus(l); its gradient vanishes when D(G(z)) -> 0 (chapter 4).
    * ``non-saturating``: -log D(G(z)) = softplus(-l); the same fixed point, strong gradients early on.
    * ``wasserstein`` and ``hinge``: -l.
    """
    _check_gan_loss(kind)
    if kind == "minimax":
        return -F.softplus(fake_logits)
    if kind == "non-saturating":
        return F.softplus(-fake_logits)
    return -fake_logits


def _input_gradient(discriminator: torch.nn.Module, x: torch.Tensor, *cond: torch.Tensor) -> torch.Tensor:
    """d l(x) / d x for every example, kept in the graph so a penalty on it trains D: (B, ...)."""
    x = x.detach().requires_grad_(True)
    logits = discriminator(x, *cond)
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    return grad


def r1_penalty(discriminator: torch.nn.Module, x_real: torch.Tensor, *cond: torch.Tensor) -> torch.Tensor:
    r"""R1 (Mescheder et al., 2018): ||grad_x l(x)||^2 at real data, per example (B,) (chapter 5).

    D minimizes ``discriminator_loss + gamma / 2 * r1_penalty``: a D that is flat on the data cannot push G
    past the equilibrium, and the game converges locally. ``cond`` are extra inputs of D (labels).
    """
    grad = _input_gradient(discriminator, x_real, *cond)
    return grad.reshape(len(grad), -1).pow(2).sum(dim=1)


def gradient_penalty(
    discriminator: torch.nn.Module,
    x_real: torch.Tensor,
    x_fake: torch.Tensor,
    *cond: torch.Tensor,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    r"""WGAN-GP (Gulrajani et al., 2017): (||grad l(x_mix)|| - 1)^2 per example (B,) (chapter 5).

    x_mix = eps * x_real + (1 - eps) * x_fake with eps ~ U(0, 1) per example, drawn on the CPU.
    """
    eps = torch.rand(len(x_real), *([1] * (x_real.dim() - 1)), generator=rng).to(x_real)
    x_mix = eps * x_real.detach() + (1 - eps) * x_fake.detach()
    grad = _input_gradient(discriminator, x_mix, *cond)
    return (grad.reshape(len(grad), -1).norm(dim=1) - 1).pow(2)


# ------------------------------------------------------------------- image-to-image (chapters 9-10)
PIXEL_LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "l1": F.l1_loss,  # mean |x_hat - x|: pix2pix
    "mse": F.mse_loss,  # mean (x_hat - x)^2: the SRResNet / "SRGAN-MSE" content loss of chapter 10
}



def feature_loss(
    features: Callable[[torch.Tensor], torch.Tensor], x_hat: torch.Tensor, x: torch.Tensor
) -> torch.Tensor:
    r"""The perceptual (feature) content loss of SRGAN (chapter 10): mean (phi(x_hat) - phi(x))^2, a scalar.

    ``features`` is phi, a fixed network's feature map (VGG in Ledig et al., 2017; a small digit classifier
    here). The target's features are constants; gradients reach ``x_hat`` through phi. Freezing phi's own
    weights is the caller's job (:class:`genmodels.models.superres.FeatureContentLoss` does it).
    """
    if x_hat.shape != x.shape:
        raise ValueError(f"x_hat and x must have the same shape, got {tuple(x_hat.shape)} and {tuple(x.shape)}")
    with torch.no_grad():
        target = features(x)
    return F.mse_loss(features(x_hat), target)

# ------------------------------------------------------------------------ AC-GAN (chapter 8)
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


def gaussian_vae_loss(model: torch.nn.Module, x: torch.Tensor, *_: torch.Tensor) -> dict[str, torch.Tensor]:
    r"""The batch-mean -ELBO, in nats, of a VAE with a Gaussian decoder N(f(z), sigma^2 I) and a learned
    ``model.log_sigma`` (:class:`genmodels.models.ToyVAE`): a density on R^d, so a bound on a true -log p(x)."""
    mean, mu, logvar = model(x)
    rec = -torch.distributions.Normal(mean, model.log_sigma.exp()).log_prob(x).flatten(1).sum(1)
    kl = kl_std_normal(mu, logvar)
    return {"loss": (kl + rec).mean(), "kl": kl.mean(), "reconstruction": rec.mean()}
