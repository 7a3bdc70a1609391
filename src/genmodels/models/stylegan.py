r"""A style-based generator (Karras et al., 2019) cut down for 28x28 digits on a CPU (chapter 11).

Three changes to the DCGAN generator of chapter 4:

1. **A constant input.** Synthesis starts from a learned tensor (C, 7, 7), the same for every image.
2. **A mapping network and styles.** z is mapped by an MLP to w = f(z). At every layer an affine map
   ``A`` turns w into a per-channel scale and bias, applied by adaptive instance normalization (AdaIN,
   Huang & Belongie, 2017): AdaIN(x, w) = s(w) * (x - mean(x)) / std(x) + b(w), per image and channel.
   z enters the image *only* through these styles.
3. **Noise injection.** Before each AdaIN, a fresh single-channel Gaussian image is added to every channel
   with a learned per-channel scale ``B`` (initialized at 0): randomness the generator may use for details.

Layers, two per resolution, each with its own style: 7x7 (layers 0-1, "coarse"), 14x14 (2-3, "middle"),
28x28 (4-5, "fine"). **Style mixing** feeds w from one z to some layers and from another z to the rest.
The discriminator is chapter 4's DCGAN discriminator with a minibatch-standard-deviation feature (and one
more convolution to use it), and the pair trains with chapter 4's two-stage step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .config import Config
from .gan import sample_latent

__all__ = [
    "StyleGANConfig",
    "adaptive_instance_norm",
    "AdaIN",
    "NoiseInjection",
    "MappingNetwork",
    "StyleGenerator",
    "StyleDiscriminator",
    "StyleGAN",
    "RESOLUTIONS",
    "LAYER_RESOLUTION",
    "make_noise",
]

RESOLUTIONS = (7, 14, 28)
LAYER_RESOLUTION = (7, 7, 14, 14, 28, 28)  # the resolution of each of the six style layers


@dataclass
class StyleGANConfig(Config):
    """Sizes of the style-based generator and its discriminator (chapter 11).

    ``channels``: feature maps at 7x7, 14x14 and 28x28. ``mixing_prob``: during training, the share of
    generated images whose styles come from two z's with a random crossover layer (mixing regularization).
    ``disc_channels``: width of the discriminator. ``noise_inputs``: False removes the noise injection from
    every layer (the ablation of chapter 11): the image is then a function of z alone.
    """

    latent_dim: int = 32
    w_dim: int = 64
    mapping_layers: int = 3
    channels: tuple[int, int, int] = (32, 16, 8)
    mixing_prob: float = 0.5
    disc_channels: int = 32
    noise_inputs: bool = True

    @property
    def num_layers(self) -> int:
        return len(LAYER_RESOLUTION)


def adaptive_instance_norm(
    x: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    r"""AdaIN(x) = scale * (x - mu(x)) / sigma(x) + bias per image and channel: x (B, C, H, W), scale, bias (B, C).

    mu and sigma are the mean and (biased) standard deviation over the H x W positions, so the output of
    channel c of image b has mean ``bias[b, c]`` and standard deviation ``|scale[b, c]|`` (up to ``eps``).
    """
    mean = x.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
    var = x.var(dim=(2, 3), keepdim=True, unbiased=False)
    normalized = (x - mean) / torch.sqrt(var + eps)
    return scale[:, :, None, None] * normalized + bias[:, :, None, None]


class AdaIN(nn.Module):
    """The learned affine map A: w (B, w_dim) -> (scale, bias) (B, C) each, then :func:`adaptive_instance_norm`.

    Initialized so that scale = 1 and bias = 0 for w = 0.
    """

    def __init__(self, w_dim: int, channels: int):
        super().__init__()
        self.affine = nn.Linear(w_dim, 2 * channels)
        nn.init.normal_(self.affine.weight, std=w_dim**-0.5)  # w of unit size -> styles that vary by about 1
        nn.init.zeros_(self.affine.bias)
        with torch.no_grad():
            self.affine.bias[:channels] = 1.0  # the scale half starts at 1

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        scale, bias = self.affine(w).chunk(2, dim=1)  # (B, C) each
        return adaptive_instance_norm(x, scale, bias)


class NoiseInjection(nn.Module):
    """x + B * noise: one Gaussian image (B, 1, H, W) per sample, scaled per channel by the learned B (C,)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(channels))  # B, zero at the start as in the paper

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        if noise is None:  # fresh noise from the global generator (training)
            noise = torch.randn(len(x), 1, *x.shape[2:], device=x.device, dtype=x.dtype)
        if noise.shape != (len(x), 1, *x.shape[2:]):
            raise ValueError(f"noise must have shape {(len(x), 1, *x.shape[2:])}, got {tuple(noise.shape)}")
        return x + self.weight[None, :, None, None] * noise


class MappingNetwork(nn.Module):
    """f: z (B, latent_dim) -> w (B, w_dim): z normalized to unit mean square, then an MLP with LeakyReLU(0.2)."""

    def __init__(self, latent_dim: int, w_dim: int, num_layers: int):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"the mapping network needs at least one layer, got mapping_layers={num_layers}")
        layers: list[nn.Module] = []
        for i in range(num_layers):
            linear = nn.Linear(latent_dim if i == 0 else w_dim, w_dim)
            nn.init.kaiming_normal_(linear.weight, a=0.2)  # keeps the size of w layer after layer
            nn.init.zeros_(linear.bias)
            layers += [linear, nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + 1e-8)  # "pixel norm" of z
        return self.net(z)


class _SynthesisLayer(nn.Module):
    """[upsample x2] [3x3 conv] -> + noise -> + bias, LeakyReLU(0.2) -> AdaIN(w): one of the six style layers."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, *, conv: bool, upsample: bool,
                 noise: bool = True):
        super().__init__()
        self.upsample = upsample
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False) if conv else None
        self.noise = NoiseInjection(out_channels) if noise else None  # None: no noise input (the ablation)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.style = AdaIN(w_dim, out_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)  # (B, C, 2H, 2W)
        if self.conv is not None:
            x = self.conv(x)
        if self.noise is not None:
            x = self.noise(x, noise)
        x = F.leaky_relu(x + self.bias[None, :, None, None], 0.2)
        return self.style(x, w)


def make_noise(
    num_samples: int, rng: torch.Generator | None = None, device: torch.device | str = "cpu"
) -> list[torch.Tensor]:
    """One noise image per style layer: [(N, 1, 7, 7), (N, 1, 7, 7), (N, 1, 14, 14), ..., (N, 1, 28, 28)].

    Drawn on the CPU from ``rng`` (the same numbers on every device), then moved to ``device``.
    """
    return [torch.randn(num_samples, 1, r, r, generator=rng).to(device) for r in LAYER_RESOLUTION]


class StyleGenerator(nn.Module):
    """G: z (B, latent_dim) -> x_hat (B, 1, 28, 28) in [0, 1]: constant input, mapping network, AdaIN, noise."""

    def __init__(self, config: StyleGANConfig | None = None):
        super().__init__()
        self.config = c = config or StyleGANConfig()
        c7, c14, c28 = c.channels
        n = c.noise_inputs
        self.mapping = MappingNetwork(c.latent_dim, c.w_dim, c.mapping_layers)
        self.const = nn.Parameter(torch.randn(1, c7, 7, 7))  # the learned constant input
        self.layers = nn.ModuleList([
            _SynthesisLayer(c7, c7, c.w_dim, conv=False, upsample=False, noise=n),  # 0: const + noise + style (7x7)
            _SynthesisLayer(c7, c7, c.w_dim, conv=True, upsample=False, noise=n),  # 1: 7x7
            _SynthesisLayer(c7, c14, c.w_dim, conv=True, upsample=True, noise=n),  # 2: 14x14
            _SynthesisLayer(c14, c14, c.w_dim, conv=True, upsample=False, noise=n),  # 3: 14x14
            _SynthesisLayer(c14, c28, c.w_dim, conv=True, upsample=True, noise=n),  # 4: 28x28
            _SynthesisLayer(c28, c28, c.w_dim, conv=True, upsample=False, noise=n),  # 5: 28x28
        ])
        self.to_image = nn.Conv2d(c28, 1, 1)

    def synthesize(self, ws: torch.Tensor, noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        """The synthesis network: one w per layer, ws (B, num_layers, w_dim) -> images (B, 1, 28, 28).

        ``noise``: one tensor per layer (see :func:`make_noise`); None draws fresh noise. Without noise inputs
        (``config.noise_inputs=False``) it is accepted and ignored.
        """
        num_layers = len(self.layers)
        if ws.dim() != 3 or ws.shape[1] != num_layers:
            raise ValueError(f"ws must have shape (B, {num_layers}, w_dim), got {tuple(ws.shape)}")
        if noise is not None and len(noise) != num_layers:
            raise ValueError(f"need one noise tensor per layer ({num_layers}), got {len(noise)}")
        x = self.const.expand(len(ws), -1, -1, -1)  # (B, c7, 7, 7): the same start for every image
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i], None if noise is None else noise[i])
        return torch.sigmoid(self.to_image(x))  # (B, 1, 28, 28)

    def mix_styles(self, w_a: torch.Tensor, w_b: torch.Tensor, layers_from_b: torch.Tensor) -> torch.Tensor:
        """ws (B, num_layers, w_dim): w_b at the layers where ``layers_from_b`` ((num_layers,) or (B, L)) is True."""
        take_b = layers_from_b.to(w_a.device).expand(len(w_a), len(self.layers))[:, :, None]  # (B, L, 1)
        return torch.where(take_b, w_b[:, None], w_a[:, None])

    def forward(self, z: torch.Tensor, noise: list[torch.Tensor] | None = None) -> torch.Tensor:
        w = self.mapping(z)  # (B, w_dim)
        ws = w[:, None].expand(-1, len(self.layers), -1)  # the same style at every layer
        if self.training and self.config.mixing_prob > 0:  # mixing regularization (Karras et al., 2019)
            ws = self._random_mix(z, ws)
        return self.synthesize(ws, noise)

    def _random_mix(self, z: torch.Tensor, ws: torch.Tensor) -> torch.Tensor:
        """For a share ``mixing_prob`` of the images, the layers from a random crossover on take a second z's w."""
        num_layers = len(self.layers)
        w_b = self.mapping(torch.randn_like(z))
        crossover = torch.randint(1, num_layers, (len(z), 1), device=z.device)  # (B, 1) in 1..L-1
        mixed = torch.rand(len(z), 1, device=z.device) < self.config.mixing_prob  # (B, 1)
        layers_from_b = (torch.arange(num_layers, device=z.device)[None] >= crossover) & mixed  # (B, L)
        return self.mix_styles(ws[:, 0], w_b, layers_from_b)


class StyleDiscriminator(nn.Module):
    """D: x (B, 1, 28, 28) -> logits (B,): chapter 4's strided convolutions, then a minibatch-std feature.

    Before its last convolution, D appends one feature map holding the standard deviation of its features
    across the batch (Karras et al., 2018; chapter 5 used the same idea on the toys): a batch of look-alike
    fakes is then easy to spot, which keeps the generator from collapsing onto one digit.
    """

    def __init__(self, channels: int = 32):
        super().__init__()
        ch = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, ch, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # (B, ch, 14, 14)
            nn.Conv2d(ch, 2 * ch, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # (B, 2ch, 7, 7)
        )
        self.last = nn.Sequential(nn.Conv2d(2 * ch + 1, 2 * ch, 3, padding=1), nn.LeakyReLU(0.2), nn.Flatten())
        self.head = nn.Linear(2 * ch * 7 * 7, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)  # (B, 2ch, 7, 7)
        spread = h.std(dim=0, unbiased=False).mean()  # one number: how different the images of the batch are
        h = torch.cat([h, spread.expand(len(h), 1, *h.shape[2:])], dim=1)  # (B, 2ch + 1, 7, 7)
        return self.head(self.last(h)).squeeze(1)


class StyleGAN(nn.Module):
    """The style-based generator and its discriminator in one module (one checkpoint), for the CLI."""

    conditional = False

    def __init__(self, config: StyleGANConfig | None = None):
        super().__init__()
        self.config = c = config or StyleGANConfig()
        self.generator = StyleGenerator(c)
        self.discriminator = StyleDiscriminator(c.disc_channels)

    @torch.no_grad()
    def sample(self, num_samples: int, rng: torch.Generator | None = None) -> torch.Tensor:
        """G(z) for z ~ N(0, I), with noise drawn from the same ``rng``: (N, 1, 28, 28)."""
        device = self.generator.const.device
        z = sample_latent(num_samples, self.config.latent_dim, rng, device)
        return self.generator(z, make_noise(num_samples, rng, device))
