"""What the command line can train and sample: the table :data:`MODELS`, one entry per model, by family.

An entry (:class:`ModelSpec`) names the model class and its dataclass config (stored in the checkpoint with
``config.to_dict()``, read back with ``Config.from_dict``), the data it accepts, how to train it (with its
recipe from :mod:`genmodels.recipes`) and how to sample it. Adding a model is one more entry in the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .attributes import AttributeScaler, measure_attributes
from .budget import steps as budget_steps
from .colour_digits import load_colour_digits, to_grey
from .data import IMAGE_DATA, load_mnist, sample_toy, toy_distribution
from .gan_training import train_acgan, train_gan
from .imaging import downsample, edge_map
from .losses import cvae_loss, vae_loss
from .models import (
    ACGAN, GAN, MLPVAE, SRGAN, ACGANConfig, CGANConfig, ClassConditionalGaussian, ConditionalVAE, CVAEConfig,
    DCGANConfig, GaussianConfig, MLPGANConfig, Pix2Pix, Pix2PixConfig, SRConfig, StyleGAN, StyleGANConfig,
    TrajectoryCVAE, TrajectoryCVAEConfig, VAEConfig, trajectory_cvae_loss,
)
from .diffusion_training import Diffusion, DiffusionConfig, diffusion_config, sample_diffusion, train_diffusion
from .models.config import Config
from .models.pix2pix import OBJECTIVES
from .paired_training import train_paired
from .recipes import (
    BEST_TOY_METHOD, DCGAN_DIGITS, DCGAN_RECIPE, IMAGE_RECIPE, PIX2PIX_RECIPE, SRGAN_RECIPE, STYLEGAN_RECIPE,
    TRAJECTORY_RECIPE, VAE_RECIPE, Recipe, toy_recipe,
)
from .trajectories import sample_junction
from .training import History, fit

__all__ = ["ModelSpec", "MODELS", "default_steps", "load_training_data", "IMAGE_DATA", "TOY_DATA",
           "TRAJECTORY_DATA", "COLOUR_DATA"]

TOY_DATA = ("ring8", "grid25", "moons")
NUM_TOY_SAMPLES = 10_000
COLOUR_DATA = ("colour-digits",)  # chapter 9: grey digit -> the same digit in red or green, (N, 3, 28, 28)
TRAJECTORY_DATA = ("junction",)  # chapter 7: agents at a junction, (N, 20, 2) trajectories, label = branch
NUM_TRAJECTORIES = 20_000
JUNCTION = {"lane_std": 0.5, "lane_bias": 3.0}  # chapter 7's junction: the lane offset changes the branch odds

Train = Callable[[nn.Module, str, torch.Tensor, torch.Tensor, int], History]  # (model, data, x, y, num_steps)
Sample = Callable[[nn.Module, str, int, "int | None", torch.Generator], torch.Tensor]  # (model, data, n, label, rng)


def load_training_data(name: str, seed: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Training inputs and labels of a data set named on the command line, on ``device``."""
    if name in IMAGE_DATA:
        data = load_mnist("embedded" if name == "mnist" else "torchvision", device=device)
        return data.x_train, data.y_train
    if name in COLOUR_DATA:  # chapter 9: the coloured digits (their grey inputs are to_grey of them)
        digits = load_colour_digits(device=device)
        return digits.x_train, digits.y_train
    if name in TRAJECTORY_DATA:  # chapter 7: 8 observed + 12 future positions per agent, and its branch
        agents = sample_junction(NUM_TRAJECTORIES, torch.Generator().manual_seed(seed), **JUNCTION).to(device)
        return agents.trajectories(), agents.branch
    return sample_toy(name, NUM_TOY_SAMPLES, seed=seed, device=device)


@dataclass(frozen=True)
class ModelSpec:
    """How the command line builds, trains and samples one kind of model.

    ``train(model, data, x, y, num_steps)`` and ``sample(model, data, n, label, rng)`` get the name of the data
    set (``--data``, kept in the checkpoint) beside the model. ``make_config(data)`` is the config trained by
    default (``config()`` unless given).
    """

    help: str
    model: type[nn.Module]
    config: type[Config]
    data: tuple[str, ...]
    budget: str
    train: Train
    sample: Sample
    conditional_on: tuple[str, ...] = ()  # data sets whose labels the model is conditioned on
    make_config: Callable[[str], Config] | None = None
    losses: tuple[str, ...] = ()  # objectives --loss may choose (stored as the config's ``loss``)

    def default_config(self, data: str, loss: str | None = None) -> dict:
        """The config dict a checkpoint of ``--data data`` (and ``--loss loss``) stores."""
        config = (self.make_config(data) if self.make_config else self.config()).to_dict()
        return config if loss is None else {**config, "loss": loss}

    def build(self, config: dict) -> nn.Module:
        """The model of a stored config dict."""
        return self.model(self.config.from_dict(config))


def _batches(recipe: Recipe, *tensors: torch.Tensor):
    """The recipe's batches, shuffled by the global generator that the command line seeds with --seed."""
    return recipe.batches(*tensors, rng=torch.default_generator)


def _labels(n: int, label: int | None) -> torch.Tensor | None:
    return None if label is None else torch.full((n,), label, dtype=torch.long)


# ---------------------------------------------------------------- chapter 1: class-conditional Gaussian
def _gaussian_config(data: str) -> GaussianConfig:
    return GaussianConfig() if data in IMAGE_DATA else GaussianConfig(data_dim=2, latent_dim=1, num_classes=1)


def _gaussian_train(model: ClassConditionalGaussian, data: str, x: torch.Tensor, y: torch.Tensor, num_steps: int):
    model.fit(x, y if model.config.num_classes > 1 else None)  # closed form: one "step"
    return History()


def _gaussian_sample(model: ClassConditionalGaussian, data: str, n: int, label: int | None, rng: torch.Generator):
    if label is None:
        y = torch.multinomial(model.log_prior.exp().cpu(), n, replacement=True, generator=rng)
    else:
        y = torch.full((n,), label, dtype=torch.long)
    # Images: the mean of p(x | z, y), as decoders are usually shown (pixel noise is only static).
    # Other data: the full density, or 2-D toys whose variance sits in sigma^2 would collapse to a line.
    return model.sample(y.to(model.mu.device), pixel_noise=data not in IMAGE_DATA, rng=rng)


# ------------------------------------------------------ chapter 3: the benchmark VAE, the conditional VAE
def _vae_train(model: MLPVAE, data: str, x: torch.Tensor, y: torch.Tensor, num_steps: int) -> History:
    return fit(model, vae_loss, _batches(VAE_RECIPE, x), num_steps, **VAE_RECIPE.train_args, desc="vae")


def _cvae_train(model: ConditionalVAE, data: str, x: torch.Tensor, y: torch.Tensor, num_steps: int) -> History:
    return fit(model, cvae_loss, _batches(VAE_RECIPE, x, y), num_steps, **VAE_RECIPE.train_args, desc="cvae")


def _cvae_sample(model: ConditionalVAE, data: str, n: int, label: int | None, rng: torch.Generator):
    y = torch.randint(model.config.num_classes, (n,), generator=rng) if label is None else _labels(n, label)
    return model.sample(y, rng=rng)  # no label asked for: an equal chance of each class


# ------------------------------------------------- chapters 4-5, 8, 11: GAN, DCGAN, cGAN, AC-GAN, StyleGAN
def _toy_gan_config(data: str) -> MLPGANConfig:
    return MLPGANConfig(**toy_recipe(BEST_TOY_METHOD, toy_distribution(data).modes)[0])


def _gan_train(model: GAN, data: str, x: torch.Tensor, y: torch.Tensor, num_steps: int) -> History:
    """The chapters' recipes: the toys with chapter 5's best method, digits as in chapter 4 (11: StyleGAN's)."""
    if data in TOY_DATA:
        recipe = toy_recipe(BEST_TOY_METHOD, toy_distribution(data).modes)[1]
    else:
        recipe = STYLEGAN_RECIPE if isinstance(model, StyleGAN) else IMAGE_RECIPE
        recipe = DCGAN_RECIPE if type(model.config) is DCGANConfig else recipe  # chapter 4's DCGAN: the paper's
    tensors = (x, y) if getattr(model, "conditional", False) else (x,)
    return train_gan(model.generator, model.discriminator, _batches(recipe, *tensors), num_steps,
                     latent_dim=model.config.latent_dim, desc="stylegan" if isinstance(model, StyleGAN) else "gan",
                     **recipe.train_args)


def _gan_sample(model: GAN | ACGAN, data: str, n: int, label: int | None, rng: torch.Generator) -> torch.Tensor:
    return model.sample(n, _labels(n, label), rng=rng)  # AC-GAN: attributes ~ N(0, I), clipped to +-2


def _acgan_train(model: ACGAN, data: str, x: torch.Tensor, y: torch.Tensor, num_steps: int) -> History:
    """Measure thickness and slant of every training digit, standardize them, train as chapter 8 does."""
    raw = measure_attributes(x, model.config.attributes)
    scaler = AttributeScaler.fit(raw)
    model.attribute_mean.copy_(scaler.mean)  # kept in the checkpoint: how to read a standardized request
    model.attribute_std.copy_(scaler.std)
    return train_acgan(model.generator, model.discriminator, _batches(IMAGE_RECIPE, x, y, scaler.normalize(raw)),
                       num_steps, desc="acgan", **IMAGE_RECIPE.train_args)


# ------------------------------------------------------ chapter 7: trajectory CVAE p(future | past) at a junction
def _trajcvae_train(model: TrajectoryCVAE, data: str, x: torch.Tensor, y: torch.Tensor, num_steps: int):
    """x: whole trajectories (N, num_past + num_future, 2); the branch labels y are not used."""
    past, future = x[:, : model.config.num_past], x[:, model.config.num_past :]
    return fit(model, trajectory_cvae_loss, _batches(TRAJECTORY_RECIPE, past, future), num_steps, desc="trajcvae",
               **TRAJECTORY_RECIPE.train_args)


def _trajcvae_sample(model: TrajectoryCVAE, data: str, n: int, label: int | None, rng: torch.Generator):
    """n new agents: a past drawn from the junction data, then one future sampled by the CVAE: (n, 20, 2)."""
    c = model.config
    past = sample_junction(n, rng, num_past=c.num_past, num_future=c.num_future, **JUNCTION).past
    past = past.to(next(model.parameters()).device)
    future = model.sample(past, 1, rng=rng)[:, 0]  # (n, num_future, 2)
    return torch.cat([past, future], dim=1)


# ------------------------------------------ chapters 9-10: image-to-image (pix2pix) and super-resolution (SRGAN)
# Both learn x_in -> x from pairs made of the training digits: x_in = edge map (pix2pix) or 7 x 7 version (srgan);
# pix2pix on colour-digits: x_in = the grey digit, x = the digit in red or green (chapter 9's colourization).
# `sample` has no noise to draw: it takes N held-out test digits (picked by --seed, of class --label if given),
# turns them into inputs the same way, and saves the N outputs. Own inputs: Pix2Pix.translate / SRGAN.upscale.
def _test_digits(data: str, n: int, label: int | None, rng: torch.Generator) -> torch.Tensor:
    """``n`` held-out (grey) test digits of ``data`` (of class ``label``), distinct while there are enough."""
    split = load_mnist("torchvision" if data == "mnist-full" else "embedded")
    pool = split.x_test if label is None else split.x_test[split.y_test == label]
    if n <= len(pool):
        return pool[torch.randperm(len(pool), generator=rng)[:n]]
    return pool[torch.randint(len(pool), (n,), generator=rng)]


def _pix2pix_input(model: Pix2Pix, data: str, grey: torch.Tensor) -> torch.Tensor:
    """The generator's input for grey digits: the digit itself (colour-digits) or its edge map."""
    return grey if data in COLOUR_DATA else edge_map(grey, model.config.edge_sigma)


def _pix2pix_train(model: Pix2Pix, data: str, x: torch.Tensor, y: torch.Tensor, num_steps: int) -> History:
    """Chapter 9's recipe with the config's objective: l2, l1 (no discriminator) or l1+gan."""
    pixel_loss, adversarial = OBJECTIVES[model.config.loss]
    recipe = PIX2PIX_RECIPE.replace(pixel_loss=pixel_loss)
    x_in = _pix2pix_input(model, data, to_grey(x) if data in COLOUR_DATA else x)
    return train_paired(model.generator, model.discriminator if adversarial else None, _batches(recipe, x_in, x),
                        num_steps, desc=f"pix2pix {model.config.loss}", **recipe.train_args)


def _pix2pix_sample(model: Pix2Pix, data: str, n: int, label: int | None, rng: torch.Generator) -> torch.Tensor:
    return model.translate(_pix2pix_input(model, data, _test_digits(data, n, label, rng)))


def _pix2pix_config(data: str) -> Pix2PixConfig:
    return Pix2PixConfig(out_channels=3) if data in COLOUR_DATA else Pix2PixConfig()


def _srgan_train(model: SRGAN, data: str, x: torch.Tensor, y: torch.Tensor, num_steps: int) -> History:
    batches = _batches(SRGAN_RECIPE, downsample(x, model.config.scale), x)
    return train_paired(model.generator, model.discriminator, batches, num_steps, desc="srgan",
                        **SRGAN_RECIPE.train_args)


def _srgan_sample(model: SRGAN, data: str, n: int, label: int | None, rng: torch.Generator) -> torch.Tensor:
    return model.upscale(downsample(_test_digits(data, n, label, rng), model.config.scale))


# ------------------------------------------------------------------------------------------- the table
# ------------------------------------ chapter 12: diffusion (toys: flow matching; digits: DDPM + guidance)
DATA_BUDGETS: dict[tuple[str, str], str] = {("diffusion", toy): "cli.diffusion_toy" for toy in ("ring8", "grid25")}


MODELS: dict[str, ModelSpec] = {
    # class-conditional Gaussian (chapter 1)
    "gaussian": ModelSpec(
        "class-conditional Gaussian p(x|y), probabilistic PCA per class (chapter 1; closed-form fit)",
        ClassConditionalGaussian, GaussianConfig, IMAGE_DATA + TOY_DATA, "cli.gaussian", _gaussian_train,
        _gaussian_sample, conditional_on=IMAGE_DATA, make_config=_gaussian_config),
    # variational autoencoders (chapter 3)
    "vae": ModelSpec(
        "MLP VAE 784-400-20 with a Bernoulli decoder (the pytorch/examples reference)",
        MLPVAE, VAEConfig, IMAGE_DATA, "cli.vae", _vae_train, lambda model, data, n, label, rng: model.sample(n, rng=rng)),
    "cvae": ModelSpec(
        "conditional VAE p(x | z, y): ask for a digit with --label, z is its style (chapter 3)",
        ConditionalVAE, CVAEConfig, IMAGE_DATA, "cli.cvae", _cvae_train, _cvae_sample, conditional_on=IMAGE_DATA),
    "trajcvae": ModelSpec(
        "trajectory CVAE: observe 8 positions, sample 12 more; samples (N, 20, 2) in metres (chapter 7)",
        TrajectoryCVAE, TrajectoryCVAEConfig, TRAJECTORY_DATA, "cli.trajcvae", _trajcvae_train, _trajcvae_sample,
        make_config=lambda data: TrajectoryCVAEConfig(learned_prior=True)),  # chapter 7's prior network p(z | past)
    # GANs (chapters 4-5, 8, 11)
    "gan": ModelSpec(
        "MLP GAN on a 2-D toy with chapter 5's fix against mode collapse (chapters 4-5)",
        GAN, MLPGANConfig, ("ring8", "grid25"), "cli.gan", _gan_train, _gan_sample, make_config=_toy_gan_config),
    "dcgan": ModelSpec(
        "DCGAN for 28x28 digits, small enough for a CPU (chapter 4)",
        GAN, DCGANConfig, IMAGE_DATA, "cli.dcgan", _gan_train, _gan_sample,
        make_config=lambda data: DCGANConfig(**DCGAN_DIGITS)),
    "cgan": ModelSpec(
        "conditional DCGAN: label + noise -> digit; sample with --label (chapter 4)",
        GAN, CGANConfig, IMAGE_DATA, "cli.cgan", _gan_train, _gan_sample, conditional_on=IMAGE_DATA),
    "acgan": ModelSpec(
        "attribute-conditioned GAN (AC-GAN): --label K, thickness and slant drawn at random (chapter 8)",
        ACGAN, ACGANConfig, IMAGE_DATA, "cli.acgan", _acgan_train, _gan_sample, conditional_on=IMAGE_DATA),
    "stylegan": ModelSpec(
        "style-based generator: mapping network, AdaIN styles, noise injection (chapter 11)",
        StyleGAN, StyleGANConfig, IMAGE_DATA, "cli.stylegan", _gan_train,
        lambda model, data, n, label, rng: model.sample(n, rng=rng)),
    # image-to-image (chapters 9-10)
    "pix2pix": ModelSpec(
        "pix2pix: edge map -> digit (mnist), grey -> red or green digit (colour-digits), U-Net + PatchGAN, "
        f"--loss {'|'.join(OBJECTIVES)}; sample translates N test digits (--label K: of class K) (chapter 9)",
        Pix2Pix, Pix2PixConfig, IMAGE_DATA + COLOUR_DATA, "cli.pix2pix", _pix2pix_train, _pix2pix_sample,
        conditional_on=IMAGE_DATA + COLOUR_DATA,  # --label picks which test digits to translate
        make_config=_pix2pix_config, losses=tuple(OBJECTIVES)),
    "srgan": ModelSpec(
        "super-resolution GAN 7x7 -> 28x28; sample upscales N downsampled test digits "
        "(--label K: test digits of class K) (chapter 10)",
        SRGAN, SRConfig, IMAGE_DATA, "cli.srgan", _srgan_train, _srgan_sample, conditional_on=IMAGE_DATA),
    # chapter 12
    "diffusion": ModelSpec(
        "diffusion: flow matching on the toys, class-conditional DDPM with guidance on digits (--label K, "
        "--sampler-steps S) (chapter 12)",
        Diffusion, DiffusionConfig, IMAGE_DATA + ("ring8", "grid25"), "cli.diffusion_mnist", train_diffusion,
        sample_diffusion, conditional_on=IMAGE_DATA, make_config=diffusion_config),
}


def default_steps(model: str, data: str | None = None) -> int:
    """The step count ``train`` uses when ``--steps`` is not given (full, or quick under GENMODELS_QUICK=1)."""
    return budget_steps(DATA_BUDGETS.get((model, data), MODELS[model].budget))
