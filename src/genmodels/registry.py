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
from .attributes import AttributeScaler, measure_attributes  # chapter 8
from .models import ACGAN, ACGANConfig, StyleGAN, StyleGANConfig, train_acgan  # chapters 8 and 11
from .models.acgan import ACGAN_RECIPE
from .models.stylegan import STYLEGAN_RECIPE
from .models import TRAJECTORY_RECIPE, TrajectoryCVAE, TrajectoryCVAEConfig, trajectory_cvae_loss  # chapter 7
from .trajectories import sample_junction  # chapter 7
from dataclasses import fields  # chapters 9-10
from .imaging import downsample, edge_map
from .models import SRGAN, Pix2Pix, Pix2PixConfig, SRConfig, train_paired  # chapters 9-10
from .models.pix2pix import EDGE_SIGMA, PIX2PIX_RECIPE
from .models.superres import SRGAN_RECIPE

__all__ = ["ModelSpec", "MODELS", "load_training_data", "IMAGE_DATA", "TOY_DATA", "TRAJECTORY_DATA"]

IMAGE_DATA = ("mnist", "mnist-full")
TOY_DATA = ("ring8", "grid25", "moons")
NUM_TOY_SAMPLES = 10_000
TRAJECTORY_DATA = ("junction",)  # chapter 7: agents at a junction, (N, 20, 2) trajectories, label = branch
NUM_TRAJECTORIES = 20_000


def load_training_data(name: str, seed: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Training inputs and labels of a data set named on the command line, on ``device``."""
    if name in IMAGE_DATA:
        data = load_mnist("embedded" if name == "mnist" else "torchvision", device=device)
        return data.x_train, data.y_train
    if name in TRAJECTORY_DATA:  # chapter 7: 8 observed + 12 future positions per agent, and its branch
        agents = sample_junction(NUM_TRAJECTORIES, torch.Generator().manual_seed(seed)).to(device)
        return agents.trajectories(), agents.branch
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


# ------------------------------------ chapters 8 and 11: attribute-conditioned GAN, style-based generator
def _acgan_train(model: ACGAN, x: torch.Tensor, y: torch.Tensor, num_steps: int) -> History:
    """Measure thickness and slant of every training digit, standardize them, train as chapter 8 does."""
    raw = measure_attributes(x, model.config.attributes)
    scaler = AttributeScaler.fit(raw)
    model.attribute_mean.copy_(scaler.mean)  # kept in the checkpoint: how to read a standardized request
    model.attribute_std.copy_(scaler.std)
    recipe = dict(ACGAN_RECIPE)
    batches = infinite_minibatches(x, y, scaler.normalize(raw), batch_size=recipe.pop("batch_size"))
    return train_acgan(model.generator, model.discriminator, batches, num_steps, desc="acgan", **recipe)


def _acgan_sample(model: ACGAN, n: int, label: int | None, gen: torch.Generator) -> torch.Tensor:
    labels = torch.full((n,), label, dtype=torch.long) if label is not None else None
    return model.sample(n, labels, generator=gen)  # standardized attributes ~ N(0, I), clipped to +-2


def _stylegan_train(model: StyleGAN, x: torch.Tensor, y: torch.Tensor, num_steps: int) -> History:
    recipe = dict(STYLEGAN_RECIPE)
    batches = infinite_minibatches(x, batch_size=recipe.pop("batch_size"))
    return train_gan(model.generator, model.discriminator, batches, num_steps,
                     latent_dim=model.config.latent_dim, desc="stylegan", **recipe)


MODELS["acgan"] = ModelSpec(
    help="attribute-conditioned GAN (AC-GAN): --label K, thickness and slant drawn at random (chapter 8)",
    data=IMAGE_DATA,
    conditional_on=IMAGE_DATA,
    budget="cli.acgan",
    default_config=lambda data: asdict(ACGANConfig()),
    build=lambda cfg: ACGAN(ACGANConfig(**{**cfg, "attributes": tuple(cfg["attributes"])})),
    train=_acgan_train,
    sample=_acgan_sample,
)
MODELS["stylegan"] = ModelSpec(
    help="style-based generator: mapping network, AdaIN styles, noise injection (chapter 11)",
    data=IMAGE_DATA,
    conditional_on=(),
    budget="cli.stylegan",
    default_config=lambda data: {**asdict(StyleGANConfig()), "channels": list(StyleGANConfig().channels)},
    build=lambda cfg: StyleGAN(StyleGANConfig(**{**cfg, "channels": tuple(cfg["channels"])})),
    train=_stylegan_train,
    sample=lambda model, n, label, gen: model.sample(n, generator=gen),
)

# ------------------------------------------------------ chapter 7: trajectory CVAE p(future | past) at a junction
def _trajcvae_train(model: TrajectoryCVAE, x: torch.Tensor, y: torch.Tensor, num_steps: int) -> History:
    """x: whole trajectories (N, num_past + num_future, 2); the branch labels y are not used."""
    past, future = x[:, : model.config.num_past], x[:, model.config.num_past :]
    recipe = dict(TRAJECTORY_RECIPE)
    batches = infinite_minibatches(past, future, batch_size=recipe.pop("batch_size"))
    return fit(model, trajectory_cvae_loss, batches, num_steps, desc="trajcvae", **recipe)


def _trajcvae_sample(model: TrajectoryCVAE, n: int, label: int | None, gen: torch.Generator) -> torch.Tensor:
    """n new agents: a past drawn from the junction data, then one future sampled by the CVAE: (n, 20, 2)."""
    c = model.config
    past = sample_junction(n, gen, num_past=c.num_past, num_future=c.num_future).past
    past = past.to(next(model.parameters()).device)
    future = model.sample(past, 1, generator=gen)[:, 0]  # (n, num_future, 2)
    return torch.cat([past, future], dim=1)


MODELS["trajcvae"] = ModelSpec(
    help="trajectory CVAE: observe 8 positions, sample 12 more; samples (N, 20, 2) in metres (chapter 7)",
    data=TRAJECTORY_DATA,
    conditional_on=(),
    budget="cli.trajcvae",
    default_config=lambda data: asdict(TrajectoryCVAEConfig()),
    build=lambda cfg: TrajectoryCVAE(TrajectoryCVAEConfig(**cfg)),
    train=_trajcvae_train,
    sample=_trajcvae_sample,
)


# ------------------------------------------ chapters 9-10: image-to-image (pix2pix) and super-resolution (SRGAN)
# Both learn x_in -> x from pairs made of the training digits: x_in = edge map (pix2pix) or 7 x 7 version (srgan).
# `sample` has no noise to draw: it takes N held-out test digits (picked by --seed, of class --label if given),
# turns them into inputs the same way, and saves the N outputs. Own inputs: Pix2Pix.translate / SRGAN.upscale.
def _test_digits(data: str, n: int, label: int | None, gen: torch.Generator) -> torch.Tensor:
    """``n`` held-out test digits of ``data`` (of class ``label``), distinct while there are enough."""
    split = load_mnist("embedded" if data == "mnist" else "torchvision")
    pool = split.x_test if label is None else split.x_test[split.y_test == label]
    if n <= len(pool):
        return pool[torch.randperm(len(pool), generator=gen)[:n]]
    return pool[torch.randint(len(pool), (n,), generator=gen)]


def _image_to_image_build(model_class: type, config_class: type) -> Callable[[dict], nn.Module]:
    """build(cfg) for a config dict holding the model's fields plus the data set and input settings."""

    names = {f.name for f in fields(config_class)}

    def build(cfg: dict) -> nn.Module:
        model = model_class(config_class(**{k: v for k, v in cfg.items() if k in names}))
        model.data_name, model.edge_sigma = cfg["data"], cfg.get("edge_sigma")
        return model

    return build


def _pix2pix_train(model: Pix2Pix, x: torch.Tensor, y: torch.Tensor, num_steps: int) -> History:
    recipe = dict(PIX2PIX_RECIPE)
    batches = infinite_minibatches(edge_map(x, model.edge_sigma), x, batch_size=recipe.pop("batch_size"))
    return train_paired(model.generator, model.discriminator, batches, num_steps, desc="pix2pix", **recipe)


def _pix2pix_sample(model: Pix2Pix, n: int, label: int | None, gen: torch.Generator) -> torch.Tensor:
    return model.translate(edge_map(_test_digits(model.data_name, n, label, gen), model.edge_sigma))


def _srgan_train(model: SRGAN, x: torch.Tensor, y: torch.Tensor, num_steps: int) -> History:
    recipe = dict(SRGAN_RECIPE)
    batches = infinite_minibatches(downsample(x, model.config.scale), x, batch_size=recipe.pop("batch_size"))
    return train_paired(model.generator, model.discriminator, batches, num_steps, desc="srgan", **recipe)


def _srgan_sample(model: SRGAN, n: int, label: int | None, gen: torch.Generator) -> torch.Tensor:
    return model.upscale(downsample(_test_digits(model.data_name, n, label, gen), model.config.scale))


MODELS["pix2pix"] = ModelSpec(
    help="pix2pix: edge map -> digit, U-Net + PatchGAN; sample translates the edges of N test digits "
         "(--label K: test digits of class K) (chapter 9)",
    data=IMAGE_DATA,
    conditional_on=IMAGE_DATA,  # --label picks which test digits to translate
    budget="cli.pix2pix",
    default_config=lambda data: {**asdict(Pix2PixConfig()), "data": data, "edge_sigma": EDGE_SIGMA},
    build=_image_to_image_build(Pix2Pix, Pix2PixConfig),
    train=_pix2pix_train,
    sample=_pix2pix_sample,
)
MODELS["srgan"] = ModelSpec(
    help="super-resolution GAN 7x7 -> 28x28; sample upscales N downsampled test digits "
         "(--label K: test digits of class K) (chapter 10)",
    data=IMAGE_DATA,
    conditional_on=IMAGE_DATA,
    budget="cli.srgan",
    default_config=lambda data: {**asdict(SRConfig()), "data": data},
    build=_image_to_image_build(SRGAN, SRConfig),
    train=_srgan_train,
    sample=_srgan_sample,
)


# ------------------------------------ chapter 12: diffusion (toys: flow matching; digits: DDPM + guidance)
from .gan_training import mode_spacing  # noqa: E402  (chapter 12's block is self-contained, to port in one piece)
from .models.diffusion import (  # noqa: E402
    DIFFUSION_DIGIT_RECIPE, DIFFUSION_TOY_RECIPE, DigitDenoiser, DigitDenoiserConfig, NoiseSchedule, ToyDenoiser,
    ToyDenoiserConfig, ddim_sample, flow_sample, guided, train_denoiser)

DATA_BUDGETS: dict[tuple[str, str], str] = {("diffusion", toy): "cli.diffusion_toy" for toy in ("ring8", "grid25")}


def _diffusion_config(data: str) -> dict:
    if data in IMAGE_DATA:
        return {**asdict(DigitDenoiserConfig()), "data": data}
    spacing = mode_spacing(toy_distribution(data).modes)
    return {**asdict(ToyDenoiserConfig(base_frequency=round(1.0 / spacing, 6))), "data": data}


def _diffusion_build(cfg: dict) -> nn.Module:
    image = cfg["data"] in IMAGE_DATA
    config_class, model_class = (DigitDenoiserConfig, DigitDenoiser) if image else (ToyDenoiserConfig, ToyDenoiser)
    model = model_class(config_class(**{k: v for k, v in cfg.items() if k in {f.name for f in fields(config_class)}}))
    model.data_name = cfg["data"]
    model.sampler_steps = (DIFFUSION_DIGIT_RECIPE if image else DIFFUSION_TOY_RECIPE)["sample_steps"]
    return model


def _diffusion_train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, num_steps: int) -> History:
    """Chapter 12's recipes: flow matching on fresh toy samples; DDPM with label dropout on the digits in [-1, 1]."""
    rng = torch.Generator().manual_seed(0)
    if isinstance(model, DigitDenoiser):
        recipe = DIFFUSION_DIGIT_RECIPE
        batches = infinite_minibatches(x * 2 - 1, y, batch_size=recipe["batch_size"], generator=rng)
        return train_denoiser(model, batches, num_steps, objective="ddpm", lr=recipe["lr"], rng=rng,
                              schedule=NoiseSchedule(recipe["schedule_steps"]), p_uncond=recipe["p_uncond"], desc="diffusion")
    recipe, toy = DIFFUSION_TOY_RECIPE, toy_distribution(model.data_name)
    batches = iter(lambda: (toy.sample(recipe["batch_size"], rng)[0].to(x.device),), None)
    return train_denoiser(model, batches, num_steps, objective="flow", lr=recipe["lr"], time_power=recipe["time_power"],
                          rng=rng, log_every=100, desc="flow matching")


def _diffusion_sample(model: nn.Module, n: int, label: int | None, gen: torch.Generator) -> torch.Tensor:
    device = next(model.parameters()).device
    if not isinstance(model, DigitDenoiser):
        return flow_sample(model, (n, 2), num_steps=model.sampler_steps, rng=gen, device=device)
    recipe = DIFFUSION_DIGIT_RECIPE
    y = torch.randint(10, (n,), generator=gen) if label is None else torch.full((n,), label, dtype=torch.long)
    x = ddim_sample(guided(model, recipe["guidance"], model.config.num_classes), NoiseSchedule(recipe["schedule_steps"]),
                    (n, 1, 28, 28), y, num_steps=model.sampler_steps, rng=gen, clip_x0=recipe["clip_x0"], device=device)
    return (x + 1) / 2


MODELS["diffusion"] = ModelSpec(
    help="diffusion: flow matching on the toys, class-conditional DDPM with guidance on digits (--label K, "
         "--sampler-steps S) (chapter 12)",
    data=IMAGE_DATA + ("ring8", "grid25"),
    conditional_on=IMAGE_DATA,
    budget="cli.diffusion_mnist",
    default_config=_diffusion_config,
    build=_diffusion_build,
    train=_diffusion_train,
    sample=_diffusion_sample,
)


def default_steps(model: str, data: str | None = None) -> int:
    """The step count ``train`` uses when ``--steps`` is not given (full, or quick under GENMODELS_QUICK=1)."""
    return budget_steps(DATA_BUDGETS.get((model, data), MODELS[model].budget))
