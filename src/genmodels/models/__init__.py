"""Models of the course, one module per family, each with a dataclass config beside it.

Models describe networks: how they are trained is in :mod:`genmodels.training`, :mod:`genmodels.gan_training`
and :mod:`genmodels.paired_training`, with what settings in :mod:`genmodels.recipes`, their losses in
:mod:`genmodels.losses`.
"""

from .acgan import ACGAN, ACDiscriminator, ACGANConfig, ACGenerator, ACOutput
from .classifier import ClassifierConfig, DigitClassifier, classifier_loss
from .cvae import ConditionalVAE, CVAEConfig
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
from .gaussian import ClassConditionalGaussian, GaussianConfig
from .layers import mlp
from .pix2pix import PatchDiscriminator, Pix2Pix, Pix2PixConfig, UNetGenerator
from .stylegan import (
    AdaIN,
    MappingNetwork,
    NoiseInjection,
    StyleDiscriminator,
    StyleGAN,
    StyleGANConfig,
    StyleGenerator,
    adaptive_instance_norm,
    make_noise,
)
from .superres import SRGAN, ResidualBlock, SRConfig, SRGenerator
from .trajectory import (
    TrajectoryCVAE,
    TrajectoryCVAEConfig,
    TrajectoryMultiHead,
    TrajectoryRegressor,
    trajectory_cvae_loss,
    trajectory_mse_loss,
    trajectory_wta_loss,
)
from .toy_vae import ToyVAE, ToyVAEConfig
from .vae import MLPVAE, Autoencoder, BernoulliVAE, ConvVAE, ConvVAEConfig, VAEConfig, reparameterize

__all__ = [
    # classifier and class-conditional Gaussian (chapter 1)
    "ClassifierConfig", "DigitClassifier", "classifier_loss", "ClassConditionalGaussian", "GaussianConfig",
    # autoencoders and VAEs (chapter 3)
    "BernoulliVAE", "MLPVAE", "VAEConfig", "reparameterize", "ConvVAE", "ConvVAEConfig", "Autoencoder",
    "ConditionalVAE", "CVAEConfig", "ToyVAE", "ToyVAEConfig",
    # GANs (chapters 4-5)
    "GAN", "MLPGANConfig", "MLPGenerator", "MLPDiscriminator", "DCGANConfig", "DCGenerator", "DCDiscriminator",
    "CGANConfig", "ConditionalGenerator", "ConditionalDiscriminator", "sample_latent", "mlp",
    # trajectory forecasters (chapter 7)
    "TrajectoryCVAE", "TrajectoryCVAEConfig", "TrajectoryRegressor", "trajectory_cvae_loss", "trajectory_mse_loss",
    "TrajectoryMultiHead", "trajectory_wta_loss",
    # attribute-conditioned GAN (chapter 8)
    "ACGAN", "ACDiscriminator", "ACGANConfig", "ACGenerator", "ACOutput",
    # pix2pix and super-resolution (chapters 9-10)
    "PatchDiscriminator", "Pix2Pix", "Pix2PixConfig", "UNetGenerator", "SRGAN", "ResidualBlock", "SRConfig",
    "SRGenerator",
    # style-based generator (chapter 11)
    "AdaIN", "MappingNetwork", "NoiseInjection", "StyleGAN", "StyleGANConfig", "StyleGenerator",
    "StyleDiscriminator", "adaptive_instance_norm", "make_noise",
]
