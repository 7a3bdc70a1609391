r"""Digits with ink grain: stochastic detail that only a generator's noise inputs can produce (chapter 11).

A clean digit's grey levels are a function of its shape. Ink grain multiplies every pixel by its own random
factor, drawn afresh each time the digit is drawn:

    x_grainy = x * u,    u ~ Uniform(low, high) independently per pixel.

Given the digit's shape, the grain is pure chance: a pixel of grey level g has mean g (low + high) / 2 and
standard deviation g (high - low) / sqrt(12) across draws (0.144 g for the default 0.5 to 1), and the
background (g = 0) stays exactly 0. Only a source of randomness separate from the digit's code can redraw
the grain of a given digit; a generator whose image is a function of its code alone ties one grain to each code.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.nn import functional as F

__all__ = ["GRAIN_RANGE", "ink_grain", "grainy_batches", "grain_std", "stroke_roughness", "spread_by_region"]

GRAIN_RANGE = (0.5, 1.0)  # the factor's range: ink at half to full strength


def ink_grain(
    images: torch.Tensor, rng: torch.Generator | None = None, low: float = GRAIN_RANGE[0], high: float = GRAIN_RANGE[1]
) -> torch.Tensor:
    """x * u with u ~ Uniform(low, high) per pixel, images (B, 1, H, W) in [0, 1] -> the same shape, in [0, 1].

    ``rng`` is a CPU generator (the same grain on every device); the factors are moved to the images' device.
    """
    if not torch.is_floating_point(images):
        raise ValueError(f"ink_grain expects float grey levels in [0, 1], got dtype {images.dtype}; divide by 255")
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"need 0 <= low <= high <= 1 for the grain factor, got low={low}, high={high}")
    u = torch.rand(images.shape, generator=rng) * (high - low) + low  # (B, 1, H, W) on the CPU
    return images * u.to(images.device, images.dtype)


def grain_std(grey: torch.Tensor | float, low: float = GRAIN_RANGE[0], high: float = GRAIN_RANGE[1]) -> torch.Tensor | float:
    """The closed-form standard deviation of a grainy pixel across draws: g (high - low) / sqrt(12)."""
    return grey * (high - low) / math.sqrt(12)


def grainy_batches(
    batches: Iterator[tuple[torch.Tensor, ...]], rng: torch.Generator | None = None
) -> Iterator[tuple[torch.Tensor, ...]]:
    """The same minibatches with fresh ink grain on their images (first tensor) each time they are drawn."""
    for images, *rest in batches:
        yield (ink_grain(images, rng), *rest)


def stroke_roughness(images: torch.Tensor, ink: float = 0.3) -> torch.Tensor:
    """How grainy the ink is, per image (B,): the mean |x - median of x's 3x3 neighbourhood| over ink pixels.

    A 3x3 median keeps a stroke's edges (most of a pixel's neighbours lie on its own side) but removes
    pixel-by-pixel grain, so the residual measures grain more than shape. Ink pixels: x > ``ink``.
    """
    patches = F.unfold(F.pad(images, (1, 1, 1, 1), mode="replicate"), 3)  # (B, 9, H * W)
    median = patches.median(dim=1).values.reshape(images.shape)  # (B, 1, H, W)
    mask = (images > ink).to(images.dtype)
    return ((images - median).abs() * mask).sum(dim=(1, 2, 3)) / mask.sum(dim=(1, 2, 3)).clamp(min=1)


def spread_by_region(draws: torch.Tensor, ink: float = 0.3, blank: float = 0.02) -> tuple[float, float]:
    """The per-pixel spread across draws, inside the strokes and in the background: draws (D, N, 1, H, W).

    Each of the N images is drawn D times with its shape fixed (a real digit with fresh grain, or a generator's
    fixed w with fresh noise). A pixel is "ink" where its mean over the draws is above ``ink``, "background"
    where it is below ``blank``. Returns the mean standard deviation over the draws of the ink pixels and of
    the background pixels.
    """
    if draws.dim() != 5 or len(draws) < 2:
        raise ValueError(f"draws must have shape (num_draws >= 2, N, 1, H, W), got {tuple(draws.shape)}")
    mean, std = draws.mean(dim=0), draws.std(dim=0)  # (N, 1, H, W) each
    return std[mean > ink].mean().item(), std[mean < blank].mean().item()
