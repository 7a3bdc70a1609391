"""What the command line can train and sample: one entry per model, each naming the data it accepts.

Each entry knows how to build its model from a plain config dict (stored in the checkpoint), how to
train it on a data set for a number of steps, and how to draw samples from it. Later chapters add theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn

from .budget import steps as budget_steps
from .data import infinite_minibatches, load_mnist, sample_toy, toy_distribution
from .losses import cvae_loss, vae_loss
from .models import MLPVAE, ClassConditionalGaussian, ConditionalVAE, CVAEConfig, GaussianConfig, VAEConfig
from .training import History, fit
from .gan_training import BEST_TOY_METHOD, IMAGE_RECIPE, toy_recipe, train_gan
from .models import GAN, CGANConfig, DCGANConfig, MLPGANConfig

__all__ = ["ModelSpec", "MODELS", "load_training_data", "IMAGE_DATA", "TOY_DATA"]

IMAGE_DATA = ("mnist", "mnist-full")
TOY_DATA = ("ring8", "grid25", "moons")
NUM_TOY_SAMPLES = 10_000


def load_training_data(name: str, seed: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Training inputs and labels of a data set named on the command line, on ``device``."""
    if name in IMAGE_DATA:
        data = load_mnist("embedded" if name == "mnist" else "torchvision", device=device)
        return data.x_train, data.y_train
    return sample_toy(name, NUM_TOY_SAMPLES, seed=seed, device=device)


@dataclass(frozen=True)
class ModelSpec:
    """How the command line builds, trains and samples one kind of model."""

    help: str
    data: tuple[str, ...]
    conditional_on: tuple[str, ...]  # data sets whose labels the model is conditioned on
    budget: str
    default_config: Callable[[str], dict]
    build: Callable[[dict], nn.Module]
    train: Callable[[nn.Module, torch.Tensor, torch.Tensor, int], History]
    sample: Callable[[nn.Module, int, "int | None", torch.Generator], torch.Tensor]


# ---------------------------------------------------------------- chapter 1: class-conditional Gaussian
def _gaussian_config(data: str) -> dict:
    if data in IMAGE_DATA:
        return asdict(GaussianConfig())
    return asdict(GaussianConfig(data_dim=2, latent_dim=1, num_classes=1))


def _gaussian_train(model: ClassConditionalGaussian, x: torch.Tensor, y: torch.Tensor, num_steps: int) -> History:
    labels = y if model.config.num_classes > 1 else None
    model.fit(x, labels)  # closed form: one "step"
    return History()


def _gaussian_sample(model: ClassConditionalGaussian, n: int, label: int | None, gen: torch.Generator) -> torch.Tensor:
    if label is None:
        y = torch.multinomial(model.log_prior.exp().cpu(), n, replacement=True, generator=gen)
    else:
        y = torch.full((n,), label, dtype=torch.long)
    # Images: the mean of p(x | z, y), as decoders are usually shown (pixel noise is only static).
    # Other data: the full density, or 2-D toys whose variance sits in sigma^2 would collapse to a line.
    is_image = model.config.data_dim == 28 * 28
    return model.sample(y.to(model.mu.device), pixel_noise=not is_image, generator=gen)


# -------------------------------------------------------------------- the benchmark VAE (784-400-20)
def _vae_train(model: MLPVAE, x: torch.Tensor, y: torch.Tensor, num_steps: int) -> History:
    return fit(model, vae_loss, infinite_minibatches(x, batch_size=128), num_steps, lr=1e-3, desc="vae")


def _vae_sample(model: MLPVAE, n: int, label: int | None, gen: torch.Generator) -> torch.Tensor:
    return model.sample(n, generator=gen)


# ----------------------------------------------------------------- chapter 3: conditional VAE p(x | z, y)
def _cvae_train(model: ConditionalVAE, x: torch.Tensor, y: torch.Tensor, num_steps: int) -> History:
    batches = infinite_minibatches(x, y, batch_size=128)
    return fit(model, cvae_loss, batches, num_steps, lr=1e-3, desc="cvae")


def _cvae_sample(model: ConditionalVAE, n: int, label: int | None, gen: torch.Generator) -> torch.Tensor:
    if label is None:  # no label asked for: an equal chance of each class
        y = torch.randint(model.config.num_classes, (n,), generator=gen)
    else:
        y = torch.full((n,), label, dtype=torch.long)
    return model.sample(y, generator=gen)



# -------------------------------------------------------------- chapters 4-5: GAN, DCGAN, conditional GAN
def _toy_gan_config(data: str) -> dict:
    model_options, _ = toy_recipe(BEST_TOY_METHOD, toy_distribution(data).modes)
    return {**asdict(MLPGANConfig(**model_options)), "data": data}  # "data": the recipe depends on the toy


def _toy_gan_build(cfg: dict) -> GAN:
    gan = GAN(MLPGANConfig(**{k: v for k, v in cfg.items() if k != "data"}))
    gan.data_name = cfg["data"]
    return gan


def _gan_train(model: GAN, x: torch.Tensor, y: torch.Tensor, num_steps: int) -> History:
    """The chapters' recipes: the toys with chapter 5's best method, MNIST as in chapter 4."""
    if isinstance(model.config, MLPGANConfig):
        recipe = toy_recipe(BEST_TOY_METHOD, toy_distribution(model.data_name).modes)[1]
    else:
        recipe = dict(IMAGE_RECIPE)
    tensors = (x, y) if model.conditional else (x,)
    batches = infinite_minibatches(*tensors, batch_size=recipe.pop("batch_size"))
    return train_gan(model.generator, model.discriminator, batches, num_steps,
                     latent_dim=model.config.latent_dim, desc="gan", **recipe)


def _gan_sample(model: GAN, n: int, label: int | None, gen: torch.Generator) -> torch.Tensor:
    labels = torch.full((n,), label, dtype=torch.long) if label is not None else None
    return model.sample(n, labels, generator=gen)

MODELS: dict[str, ModelSpec] = {
    "gaussian": ModelSpec(
        help="class-conditional Gaussian p(x|y), probabilistic PCA per class (chapter 1; closed-form fit)",
        data=IMAGE_DATA + TOY_DATA,
        conditional_on=IMAGE_DATA,
        budget="cli.gaussian",
        default_config=_gaussian_config,
        build=lambda cfg: ClassConditionalGaussian(GaussianConfig(**cfg)),
        train=_gaussian_train,
        sample=_gaussian_sample,
    ),
    "vae": ModelSpec(
        help="MLP VAE 784-400-20 with a Bernoulli decoder (the pytorch/examples reference)",
        data=IMAGE_DATA,
        conditional_on=(),
        budget="cli.vae",
        default_config=lambda data: asdict(VAEConfig()),
        build=lambda cfg: MLPVAE(VAEConfig(**cfg)),
        train=_vae_train,
        sample=_vae_sample,
    ),
    "cvae": ModelSpec(
        help="conditional VAE p(x | z, y): ask for a digit with --label, z is its style (chapter 3)",
        data=IMAGE_DATA,
        conditional_on=IMAGE_DATA,
        budget="cli.cvae",
        default_config=lambda data: asdict(CVAEConfig()),
        build=lambda cfg: ConditionalVAE(CVAEConfig(**cfg)),
        train=_cvae_train,
        sample=_cvae_sample,
    ),
    "gan": ModelSpec(
        help="MLP GAN on a 2-D toy with chapter 5's fix against mode collapse (chapters 4-5)",
        data=("ring8", "grid25"),
        conditional_on=(),
        budget="cli.gan",
        default_config=_toy_gan_config,
        build=_toy_gan_build,
        train=_gan_train,
        sample=_gan_sample,
    ),
    "dcgan": ModelSpec(
        help="DCGAN for 28x28 digits, small enough for a CPU (chapter 4)",
        data=IMAGE_DATA,
        conditional_on=(),
        budget="cli.dcgan",
        default_config=lambda data: asdict(DCGANConfig()),
        build=lambda cfg: GAN(DCGANConfig(**cfg)),
        train=_gan_train,
        sample=_gan_sample,
    ),
    "cgan": ModelSpec(
        help="conditional DCGAN: label + noise -> digit; sample with --label (chapter 4)",
        data=IMAGE_DATA,
        conditional_on=IMAGE_DATA,
        budget="cli.cgan",
        default_config=lambda data: asdict(CGANConfig()),
        build=lambda cfg: GAN(CGANConfig(**cfg)),
        train=_gan_train,
        sample=_gan_sample,
    ),
}


def default_steps(model: str) -> int:
    """The step count ``train`` uses when ``--steps`` is not given (full, or quick under GENMODELS_QUICK=1)."""
    return budget_steps(MODELS[model].budget)
