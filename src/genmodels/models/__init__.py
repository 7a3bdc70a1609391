"""Models of the course, one module per family, each with a dataclass config beside it."""

from .classifier import ClassifierConfig, DigitClassifier, classifier_loss
from .gaussian import ClassConditionalGaussian, GaussianConfig
from .vae import MLPVAE, VAEConfig, reparameterize

__all__ = [
    "ClassifierConfig",
    "DigitClassifier",
    "classifier_loss",
    "ClassConditionalGaussian",
    "GaussianConfig",
    "MLPVAE",
    "VAEConfig",
    "reparameterize",
]
