"""Models of the course, one module per family, each with a dataclass config beside it."""

from .classifier import ClassifierConfig, DigitClassifier, classifier_loss
from .gaussian import ClassConditionalGaussian, GaussianConfig
from .gan import (
    GAN,
    CGANConfig,
    ConditionalDiscriminator,
    ConditionalGenerator,
    DCDiscriminator,
    DCGANConfig,
    DCGenerator,
    MLPDiscriminator,
    MLPGANConfig,
    MLPGenerator,
    sample_latent,
)
from .cvae import ConditionalVAE, CVAEConfig
from .vae import MLPVAE, Autoencoder, ConvVAE, ConvVAEConfig, VAEConfig, reparameterize

__all__ = [
    "ClassifierConfig",
    "DigitClassifier",
    "classifier_loss",
    "ClassConditionalGaussian",
    "GaussianConfig",
    "GAN",
    "MLPGANConfig",
    "MLPGenerator",
    "MLPDiscriminator",
    "DCGANConfig",
    "DCGenerator",
    "DCDiscriminator",
    "CGANConfig",
    "ConditionalGenerator",
    "ConditionalDiscriminator",
    "sample_latent",
    "MLPVAE",
    "VAEConfig",
    "reparameterize",
    "ConvVAE",
    "ConvVAEConfig",
    "Autoencoder",
    "ConditionalVAE",
    "CVAEConfig",
]
