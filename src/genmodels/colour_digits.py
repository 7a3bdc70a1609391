r"""Colourized digits (chapter 9): the translation task on which the pixel losses alone fail.

Every digit's strokes are drawn in one colour of a two-colour :data:`PALETTE`, red or green with probability
1/2 each, drawn per digit with a seeded generator. The input is the grey digit :math:`g` (1 channel), the
target the coloured digit :math:`x = g \cdot c` (3 channels, RGB in [0, 1]) with :math:`c = (1, 0, 0)` or
:math:`(0, 1, 0)`. Given the grey digit, both colours are equally likely, so the per-pixel mean (what L2
learns) is olive, :math:`(g/2, g/2, 0)`, and the per-channel median (what L1 learns) is undecided: any value
between 0 and :math:`g` minimizes the expected absolute error of a channel that is 0 or :math:`g` with
probability 1/2 each.

The measures: :func:`colour_decisiveness` (1 for a real coloured digit, 0 for olive or no ink),
:func:`palette_share` (the share of stroke pixels near a palette colour), :func:`red_share` and
:func:`colour_frechet_distance` (chapter 4's classifier Fréchet distance, channel by channel).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .data import DigitData, load_mnist
from .metrics import frechet_distance

__all__ = [
    "PALETTE", "COLOUR_SEED", "STROKE_THRESHOLD", "ColourDigits", "colourize", "load_colour_digits", "to_grey",
    "stroke_mask", "colour_decisiveness", "palette_share", "red_share", "colour_frechet_distance",
]

PALETTE = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # (2, 3): red, green
COLOUR_SEED = 9  # the seeded draw of every digit's colour (training digits first, then test digits)
STROKE_THRESHOLD = 0.5  # a stroke pixel: grey level above this


@dataclass
class ColourDigits:
    """Grey digits ``grey_*`` (N, 1, 28, 28) and their coloured versions ``x_*`` (N, 3, 28, 28), RGB in [0, 1];
    ``colour_*`` (N,): the palette index of every digit (0 red, 1 green); ``y_*``: the digit classes."""

    grey_train: torch.Tensor
    x_train: torch.Tensor
    colour_train: torch.Tensor
    y_train: torch.Tensor
    grey_test: torch.Tensor
    x_test: torch.Tensor
    colour_test: torch.Tensor
    y_test: torch.Tensor


def colourize(grey: torch.Tensor, rng: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Paint every grey digit (N, 1, H, W) in red or green, each with probability 1/2: ((N, 3, H, W), (N,)).

    Returns the coloured digits ``grey * PALETTE[colour]`` and the palette index of each.
    """
    if grey.dim() != 4 or grey.shape[1] != 1:
        raise ValueError(f"colourize takes grey digits of shape (N, 1, H, W), got {tuple(grey.shape)}")
    colour = torch.randint(len(PALETTE), (len(grey),), generator=rng)  # (N,), on the CPU
    palette = PALETTE.to(grey.device)[colour.to(grey.device)]  # (N, 3)
    return grey * palette[:, :, None, None], colour.to(grey.device)


def load_colour_digits(
    data: DigitData | None = None, device: torch.device | str | None = None, seed: int = COLOUR_SEED
) -> ColourDigits:
    """The embedded digits (or ``data``), each painted red or green by a generator seeded with ``seed``."""
    data = data if data is not None else load_mnist(device=device)
    if device is not None:
        data = data.to(device)
    rng = torch.Generator().manual_seed(seed)
    x_train, colour_train = colourize(data.x_train, rng)
    x_test, colour_test = colourize(data.x_test, rng)
    return ColourDigits(data.x_train, x_train, colour_train, data.y_train,
                        data.x_test, x_test, colour_test, data.y_test)


def to_grey(x: torch.Tensor) -> torch.Tensor:
    """The grey digit (N, 1, H, W) of a coloured one (N, 3, H, W): the brightest channel of each pixel,
    exact for palette colours (``to_grey(colourize(g)[0]) == g``)."""
    return x.amax(dim=1, keepdim=True)


def stroke_mask(grey: torch.Tensor, threshold: float = STROKE_THRESHOLD) -> torch.Tensor:
    """The stroke pixels of grey digits (N, 1, H, W): a float mask (1 on the stroke, 0 elsewhere)."""
    return (grey > threshold).float()


def _per_image_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` (N, 1, H, W) over each image's masked pixels: (N,)."""
    return (values * mask).sum(dim=(1, 2, 3)) / mask.sum(dim=(1, 2, 3)).clamp_min(1.0)


def colour_decisiveness(x: torch.Tensor, grey: torch.Tensor, min_ink: float = 0.05) -> torch.Tensor:
    r"""How decidedly each image (N, 3, H, W) is red or green on the strokes of its grey digit (N, 1, H, W): (N,).

    The mean of :math:`|R - G| / (R + G)` over the stroke pixels (:func:`stroke_mask` of ``grey``): 1 for a
    digit drawn in one palette colour, 0 for olive (:math:`R = G`). A pixel with less than ``min_ink`` of
    :math:`R + G` counts as undecided (its denominator is ``min_ink``), so a digit drawn with no ink scores
    about 0 rather than the ratio of two rounding errors.
    """
    red, green = x[:, 0:1], x[:, 1:2]  # (N, 1, H, W) each
    ratio = (red - green).abs() / (red + green).clamp_min(min_ink)
    return _per_image_mean(ratio, stroke_mask(grey))


def palette_share(x: torch.Tensor, grey: torch.Tensor, tolerance: float = 0.25) -> torch.Tensor:
    r"""The share of each image's stroke pixels whose colour is within ``tolerance`` of a palette colour: (N,).

    A stroke pixel of grey level :math:`g` is near the palette when its RGB is within ``tolerance`` in every
    channel (max-abs distance) of :math:`g \cdot (1, 0, 0)` or of :math:`g \cdot (0, 1, 0)`. A real coloured
    digit scores 1; olive :math:`(g/2, g/2, 0)` is :math:`g/2 > 0.25` away on every stroke pixel and scores 0.
    """
    palette = PALETTE.to(x.device)[:, :, None, None, None]  # (2, 3, 1, 1, 1)
    targets = grey.unsqueeze(0).transpose(1, 2) * palette  # (2, 3, N, H, W): g * red, g * green
    distance = (x.transpose(0, 1).unsqueeze(0) - targets).abs().amax(dim=1)  # (2, N, H, W)
    near = (distance.amin(dim=0) <= tolerance).float().unsqueeze(1)  # (N, 1, H, W)
    return _per_image_mean(near, stroke_mask(grey))


def red_share(x: torch.Tensor, grey: torch.Tensor) -> float:
    """The share of images (N, 3, H, W) with more red than green on their strokes (real digits: about 1/2)."""
    mask = stroke_mask(grey)
    return ((x[:, 0:1] - x[:, 1:2]) * mask).sum(dim=(1, 2, 3)).gt(0).float().mean().item()


@torch.no_grad()
def colour_frechet_distance(
    classifier: torch.nn.Module, x_a: torch.Tensor, x_b: torch.Tensor, batch_size: int = 1000
) -> float:
    """Chapter 4's classifier Fréchet distance between two sets of coloured digits (N, 3, H, W).

    A digit classifier reads grey images, so it reads each colour channel as one, and an image's features are
    those of its channels side by side, (N, 3F): a red digit is (digit, blank, blank), a green one (blank,
    digit, blank), an olive one two half-bright digits. A set painted all red is then as far from the real set
    (half red, half green) as its mean feature shows. :func:`genmodels.metrics.frechet_distance` compares them.
    """
    was_training = classifier.training
    classifier.eval()
    device = next(classifier.parameters()).device

    def features(x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, C * F)
        channels = x.reshape(-1, 1, *x.shape[2:])  # (N * C, 1, H, W), channels of an image consecutive
        f = torch.cat([classifier.features(channels[i : i + batch_size].to(device))
                       for i in range(0, len(channels), batch_size)])
        return f.reshape(len(x), -1)

    try:
        return frechet_distance(features(x_a), features(x_b))
    finally:
        classifier.train(was_training)
