"""The denoisers of chapter 12: an MLP for 2-D toys and a small U-Net-like network for 28x28 digits."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..config import Config

__all__ = ["ToyDenoiserConfig", "ToyDenoiser", "DigitDenoiserConfig", "DigitDenoiser", "timestep_embedding"]


# ------------------------------------------------------------------------------------------ networks
def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 1000.0) -> torch.Tensor:
    """Sinusoidal features (B, dim) of times t (B,) in [0, 1] (the Transformer's positions, at 1000 t)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)  # (half,)
    angles = 1000 * t.float()[:, None] * freqs[None]  # (B, half)
    return torch.cat([angles.sin(), angles.cos()], dim=1)


@dataclass
class ToyDenoiserConfig(Config):
    data_dim: int = 2
    hidden: int = 256
    num_layers: int = 3
    num_frequencies: int = 6  # Fourier features of x at octaves 1, 2, 4, ... (0: x alone)
    base_frequency: float = 1.0  # the lowest octave, in radians per data unit
    time_dim: int = 64


class ToyDenoiser(nn.Module):
    """MLP on [x, sin/cos(2^k f x), time features] -> (B, data_dim): eps (DDPM) or velocity (flow matching).

    The Fourier features of x (Tancik et al. 2020) let a small MLP be steep where the modes are narrow.
    """

    def __init__(self, config: ToyDenoiserConfig | None = None):
        super().__init__()
        self.config = c = config or ToyDenoiserConfig()
        freqs = c.base_frequency * 2.0 ** torch.arange(c.num_frequencies, dtype=torch.float32)
        self.register_buffer("freqs", freqs)  # (F,)
        in_dim = c.data_dim * (1 + 2 * c.num_frequencies) + c.time_dim
        layers: list[nn.Module] = []
        for i in range(c.num_layers):
            layers += [nn.Linear(in_dim if i == 0 else c.hidden, c.hidden), nn.SiLU()]
        self.net = nn.Sequential(*layers, nn.Linear(c.hidden, c.data_dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        angles = (x[:, :, None] * self.freqs).flatten(1)  # (B, D * F)
        h = torch.cat([x, angles.sin(), angles.cos(), timestep_embedding(t, self.config.time_dim)], dim=1)
        return self.net(h)


@dataclass
class DigitDenoiserConfig(Config):
    hidden: int = 512
    num_blocks: int = 3
    num_classes: int = 10  # label index num_classes = "no label" (classifier-free guidance)


class _Block(nn.Module):
    """Pre-norm residual MLP block; the (time, label) embedding is added to its input."""

    def __init__(self, hidden: int):
        super().__init__()
        self.norm, self.fc1, self.fc2 = nn.LayerNorm(hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return h + self.fc2(F.silu(self.fc1(F.silu(self.norm(h + emb)))))


class DigitDenoiser(nn.Module):
    """An MLP for (B, 1, 28, 28) images, flattened: 784 -> hidden -> residual blocks -> 784 (eps or velocity).

    A convolutional U-Net is the usual choice (Ho et al. 2020); on the course's 2-core CPU a U-Net of even 32
    channels cost about 2 CPU-seconds per step of 128 digits, this MLP about 30 times less (chapter 12).
    """

    def __init__(self, config: DigitDenoiserConfig | None = None):
        super().__init__()
        self.config = c = config or DigitDenoiserConfig()
        self.time_mlp = nn.Sequential(nn.Linear(128, c.hidden), nn.SiLU(), nn.Linear(c.hidden, c.hidden))
        self.label_emb = nn.Embedding(c.num_classes + 1, c.hidden)
        self.inp = nn.Linear(28 * 28, c.hidden)
        self.blocks = nn.ModuleList(_Block(c.hidden) for _ in range(c.num_blocks))
        self.out = nn.Sequential(nn.LayerNorm(c.hidden), nn.SiLU(), nn.Linear(c.hidden, 28 * 28))
        # a skip connection x -> output with a learned gain per time: at large t, eps ~ x_t needs all 784 numbers of
        # x_t, which a 784 -> hidden -> 784 MLP cannot pass through (the "c_skip" of Karras et al. 2022)
        self.skip_gain = nn.Linear(c.hidden, 1)
        nn.init.zeros_(self.skip_gain.weight)
        nn.init.zeros_(self.skip_gain.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is None:
            y = torch.full((len(x),), self.config.num_classes, dtype=torch.long, device=x.device)
        time_emb = self.time_mlp(timestep_embedding(t, 128))  # (B, hidden)
        emb = time_emb + self.label_emb(y)  # (B, hidden)
        h = self.inp(x.flatten(1))  # (B, hidden)
        for block in self.blocks:
            h = block(h, emb)
        gain = self.skip_gain(time_emb)[:, :, None, None]  # (B, 1, 1, 1)
        return self.out(h).reshape(x.shape) + gain * x  # (B, 1, 28, 28)
