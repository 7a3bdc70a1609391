r"""Attributes of a handwritten digit measured from its pixels: stroke thickness and slant (chapter 8).

Both are computed from the grey levels directly (no thresholding, no skeleton), batched, on any device,
and differentiable. They treat an image ``x`` (B, 1, 28, 28) with values in [0, 1] as a density of ink
``I(r, c)`` over rows ``r`` (downwards) and columns ``c`` (to the right).

* :func:`slant`: the shear of the ink from its second moments. Shearing an image by ``s`` (each row moved
  right by ``s`` times its height above the centre) adds ``s`` to ``-cov(c, r) / var(r)``, so that ratio
  measures the slant; it is the shear that deskewing undoes (the classic MNIST "deskew" preprocessing).
  Positive leans right, like italics. Invariant to translation and to the overall ink intensity.
* :func:`stroke_thickness`: the width of the rectangle that has the same ink **area** A (sum of grey
  levels) and the same **boundary length** P (total variation of the image: the sum of gradient magnitudes,
  which by the coarea formula is the average perimeter of the grey-level sets). A stroke of width w and
  length L has A = w L and P = 2 (L + w), so w = P/4 - sqrt(P^2/16 - A). Invariant to translation and,
  up to pixel effects, to rotation.

:func:`measure_attributes` stacks the two, and :class:`AttributeScaler` standardizes them with the
training set's mean and standard deviation, the scale the attribute-conditioned GAN is asked in.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

__all__ = [
    "ATTRIBUTES",
    "ink_moments",
    "slant",
    "ink_area",
    "boundary_length",
    "stroke_thickness",
    "measure_attributes",
    "AttributeScaler",
    "shear_images",
]

ATTRIBUTES = ("thickness", "slant")
_EPS = 1e-6


def _as_images(x: torch.Tensor) -> torch.Tensor:
    """``x`` as (B, H, W) floats; accepts (B, 1, H, W), (B, H, W) and (B, 784)."""
    if x.dim() == 4 and x.shape[1] == 1:
        return x[:, 0].float()
    if x.dim() == 3:
        return x.float()
    if x.dim() == 2 and x.shape[1] == 28 * 28:
        return x.reshape(len(x), 28, 28).float()
    raise ValueError(f"expected images (B, 1, H, W), (B, H, W) or (B, 784), got shape {tuple(x.shape)}")


def _check_ink(mass: torch.Tensor) -> None:
    if (mass <= _EPS).any():
        blank = int((mass <= _EPS).sum())
        raise ValueError(f"{blank} image(s) have no ink (all pixels 0): an attribute of a blank image is undefined")


def ink_moments(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    r"""Ink mass, centroid and central second moments of each image: (m, r0, c0, var_r, var_c, cov_rc), each (B,).

    With weights I(r, c) / m: r0 = E[r], c0 = E[c], var_r = E[(r - r0)^2], cov_rc = E[(r - r0)(c - c0)].
    """
    ink = _as_images(x).clamp_min(0)  # (B, H, W)
    _, height, width = ink.shape
    rows = torch.arange(height, dtype=ink.dtype, device=ink.device)[:, None]  # (H, 1)
    cols = torch.arange(width, dtype=ink.dtype, device=ink.device)[None, :]  # (1, W)
    mass = ink.sum(dim=(1, 2))  # (B,)
    _check_ink(mass)
    weights = ink / mass[:, None, None]
    r0 = (weights * rows).sum(dim=(1, 2))
    c0 = (weights * cols).sum(dim=(1, 2))
    dr = rows - r0[:, None, None]  # (B, H, 1)
    dc = cols - c0[:, None, None]  # (B, 1, W)
    var_r = (weights * dr**2).sum(dim=(1, 2))
    var_c = (weights * dc**2).sum(dim=(1, 2))
    cov_rc = (weights * dr * dc).sum(dim=(1, 2))
    return mass, r0, c0, var_r, var_c, cov_rc


def slant(x: torch.Tensor) -> torch.Tensor:
    r"""Slant of each image, ``-cov(r, c) / var(r)`` of the ink: (B,), 0 = upright, > 0 leans right (chapter 8).

    Rows grow downwards, so a stroke whose top is to the right has a negative row-column covariance.
    A shear ``c -> c + s (r0 - r)`` of an upright image measures ``s``.
    """
    _, _, _, var_r, _, cov_rc = ink_moments(x)
    return -cov_rc / var_r.clamp_min(_EPS)


def ink_area(x: torch.Tensor) -> torch.Tensor:
    """A = sum of the grey levels (pixels^2 of ink): (B,)."""
    return _as_images(x).clamp_min(0).sum(dim=(1, 2))


def boundary_length(x: torch.Tensor) -> torch.Tensor:
    r"""P = sum of |grad I| over the 2 x 2 cells of the image (its total variation): (B,), in pixels.

    The gradient of each cell of four neighbouring pixels is the mean of its two horizontal and its two
    vertical differences. For a sharp shape the sum is the length of its outline (an edge at any angle is
    counted at about its Euclidean length); for grey levels it averages the outlines of the level sets.
    Cells are symmetric, so P does not change when the image is turned by 90 degrees or mirrored.
    """
    ink = F.pad(_as_images(x)[:, None], (1, 1, 1, 1))[:, 0]  # a border of zeros all round: (B, H + 2, W + 2)
    top_left, top_right = ink[:, :-1, :-1], ink[:, :-1, 1:]  # the four corners of every cell: (B, H + 1, W + 1)
    bottom_left, bottom_right = ink[:, 1:, :-1], ink[:, 1:, 1:]
    d_col = 0.5 * ((top_right - top_left) + (bottom_right - bottom_left))
    d_row = 0.5 * ((bottom_left - top_left) + (bottom_right - top_right))
    return (d_col**2 + d_row**2 + 1e-12).sqrt().sum(dim=(1, 2))


def stroke_thickness(x: torch.Tensor) -> torch.Tensor:
    r"""Stroke width in pixels: the width of the rectangle with the image's ink area and boundary length (B,).

    A = w L and P = 2 (L + w) give w = P/4 - sqrt(P^2/16 - A); where P^2/16 < A (a blob rounder than a
    square) the square's side P/4 is used.
    """
    area = ink_area(x)
    _check_ink(area)
    perimeter = boundary_length(x)
    return perimeter / 4 - (perimeter**2 / 16 - area).clamp_min(0).sqrt()


def measure_attributes(
    x: torch.Tensor, names: tuple[str, ...] = ATTRIBUTES, *, batch_size: int = 5000
) -> torch.Tensor:
    """The named attributes of each image, in pixels / shear units: (B, len(names)), in the order given.

    Measured ``batch_size`` images at a time, so the 60,000 digits of the full MNIST fit in memory.
    """
    measures = {"thickness": stroke_thickness, "slant": slant}
    unknown = [n for n in names if n not in measures]
    if unknown or not names:
        raise ValueError(f"unknown attribute(s) {unknown or names}; choose from {', '.join(ATTRIBUTES)}")
    chunks = [torch.stack([measures[n](x[i : i + batch_size]) for n in names], dim=1)
              for i in range(0, len(x), batch_size)]
    return torch.cat(chunks)


@dataclass
class AttributeScaler:
    """Standardizes raw attributes (B, K) with a data set's mean and std: a = (raw - mean) / std."""

    mean: torch.Tensor  # (K,)
    std: torch.Tensor  # (K,)

    @classmethod
    def fit(cls, raw: torch.Tensor) -> AttributeScaler:
        """Mean and standard deviation of raw attributes (N, K) of a training set."""
        if raw.dim() != 2 or len(raw) < 2:
            raise ValueError(f"need raw attributes (N, K) with N >= 2, got shape {tuple(raw.shape)}")
        return cls(raw.mean(dim=0).detach(), raw.std(dim=0).detach().clamp_min(_EPS))

    def normalize(self, raw: torch.Tensor) -> torch.Tensor:
        return (raw - self.mean.to(raw)) / self.std.to(raw)

    def denormalize(self, a: torch.Tensor) -> torch.Tensor:
        return a * self.std.to(a) + self.mean.to(a)


def shear_images(x: torch.Tensor, shear: float | torch.Tensor) -> torch.Tensor:
    """Shear images (B, 1, H, W) about their centre row: column c -> c + shear * (centre - r), bilinear.

    ``shear`` > 0 leans the image to the right (what :func:`slant` reports as positive); a number or (B,).
    """
    if x.dim() != 4:
        raise ValueError(f"expected images (B, C, H, W), got shape {tuple(x.shape)}")
    batch, _, height, width = x.shape
    s = torch.as_tensor(shear, dtype=x.dtype, device=x.device).expand(batch)
    # affine_grid works in normalized coordinates (-1..1, y downwards): output (u, v) reads input (u + k v, v)
    k = s * (height / width)  # one row down moves by `shear` columns: in normalized units, scaled by H/W
    theta = torch.zeros(batch, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0] = 1
    theta[:, 0, 1] = k  # the output pixel at height v (down) reads from column u + k v: its top moves right
    theta[:, 1, 1] = 1
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
