r"""Image operations of the applications chapters: sketches, low resolution, and how to score a picture.

* Inputs of the image-to-image tasks: :func:`edge_map` (Canny edges of a digit, the "sketch" of chapter 9)
  and :func:`downsample` (average pooling 28 x 28 -> 7 x 7, the low-resolution input of chapter 10);
  :func:`upsample_bicubic`, the classical baseline for going back up.
* Scores of an output against the true image: :func:`psnr` and :func:`ssim` (chapter 10).
* A score of an image alone: :func:`sharpness`, the mean squared Sobel gradient (chapters 9 and 10).

Every function takes images (N, C, H, W) with values in [0, 1] and returns a tensor on the input's device.
Canny edges and SSIM are scikit-image's, computed on the CPU one image at a time.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

__all__ = [
    "EDGE_SIGMA",
    "edge_map",
    "downsample",
    "upsample_bicubic",
    "block_shuffle",
    "sobel_gradients",
    "sharpness",
    "psnr",
    "ssim",
]


def _check_images(x: torch.Tensor, name: str = "x") -> None:
    if x.dim() != 4:
        raise ValueError(f"{name} must be a batch of images (N, C, H, W), got shape {tuple(x.shape)}; "
                         "add the missing dimensions with x.reshape(N, 1, H, W)")


def _check_pair(x_hat: torch.Tensor, x: torch.Tensor) -> None:
    _check_images(x_hat, "x_hat")
    _check_images(x, "x")
    if x_hat.shape != x.shape:
        raise ValueError(f"x_hat and x must have the same shape, got {tuple(x_hat.shape)} and {tuple(x.shape)}")


# ------------------------------------------------------------------------------ inputs of the two tasks
# The sketches of chapter 9: Canny edges after a Gaussian blur of this standard deviation (pixels). At 1 the
# outline follows every detail of the stroke; at 2.5 it is a rough sketch that leaves the digit's holes out.
EDGE_SIGMA = 2.5


def edge_map(x: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Canny edges of every image (chapter 9): (N, 1, H, W) in [0, 1] -> (N, 1, H, W) of 0.0 / 1.0.

    ``skimage.feature.canny`` (Canny, 1986): Gaussian smoothing with ``sigma``, Sobel gradients, thinning to
    one-pixel lines (non-maximum suppression) and hysteresis thresholds. On a digit it draws the outline of
    the pen stroke: the "sketch" pix2pix learns to fill in. A blank image has no edges.
    """
    from skimage.feature import canny

    _check_images(x)
    if x.shape[1] != 1:
        raise ValueError(f"edge_map takes grey-level images (N, 1, H, W), got {x.shape[1]} channels")
    images = x.detach().float().cpu().squeeze(1).numpy()  # (N, H, W)
    edges = np.stack([canny(image, sigma=sigma) for image in images]) if len(images) else images.astype(bool)
    return torch.from_numpy(edges).float().unsqueeze(1).to(x.device)  # (N, 1, H, W)


def downsample(x: torch.Tensor, factor: int = 4) -> torch.Tensor:
    """Low resolution by averaging each ``factor`` x ``factor`` block (chapter 10): (N, C, H, W) -> (N, C, H/f, W/f).

    Each low-resolution pixel is the mean of the block it covers, as a camera sensor with larger pixels
    would record; 28 x 28 digits become 7 x 7 with ``factor=4``.
    """
    _check_images(x)
    if factor < 1 or x.shape[-1] % factor or x.shape[-2] % factor:
        raise ValueError(f"factor must be a positive divisor of the image size {tuple(x.shape[-2:])}, got {factor}")
    return F.avg_pool2d(x, factor)


def upsample_bicubic(x: torch.Tensor, factor: int = 4) -> torch.Tensor:
    """Bicubic interpolation, the classical upscaler (chapter 10): (N, C, h, w) -> (N, C, f h, f w), clipped to [0, 1]."""
    _check_images(x)
    return F.interpolate(x, scale_factor=factor, mode="bicubic", align_corners=False).clamp(0, 1)


def block_shuffle(x: torch.Tensor, factor: int = 4, rng: torch.Generator | None = None) -> torch.Tensor:
    """Shuffle the pixels inside every ``factor`` x ``factor`` block, each block its own way (chapter 10).

    The mean of every block is unchanged, so ``downsample(block_shuffle(x), factor)`` equals
    ``downsample(x, factor)``: a different high-resolution image with exactly the same low-resolution one.
    The permutations are drawn on the CPU from ``rng``.
    """
    _check_images(x)
    n, c, h, w = x.shape
    if factor < 1 or h % factor or w % factor:
        raise ValueError(f"factor must be a positive divisor of the image size {(h, w)}, got {factor}")
    blocks = F.unfold(x, factor, stride=factor)  # (N, C f^2, L): one column per block
    blocks = blocks.reshape(n, c, factor * factor, -1)  # (N, C, f^2, L)
    order = torch.rand(blocks.shape, generator=rng).argsort(dim=2).to(x.device)  # a permutation per block
    shuffled = blocks.gather(2, order).reshape(n, c * factor * factor, -1)
    return F.fold(shuffled, (h, w), factor, stride=factor)  # (N, C, H, W)


# ------------------------------------------------------------------------------------------- scores
_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8  # d/dx, grey levels per pixel


def sobel_gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Horizontal and vertical Sobel derivatives of every channel, (N, C, H, W) each, zero-padded borders.

    The kernels are divided by 8, so a ramp rising by 1 per pixel has derivative 1. Away from the borders
    this is half of ``skimage.filters.sobel_v`` (d/dx) and ``sobel_h`` (d/dy), which divide by 4.
    """
    _check_images(x)
    kx = _SOBEL_X.to(x)
    kernels = torch.stack([kx, kx.T]).unsqueeze(1)  # (2, 1, 3, 3): d/dx, d/dy
    n, c, h, w = x.shape
    g = F.conv2d(x.reshape(n * c, 1, h, w), kernels, padding=1)  # (N C, 2, H, W)
    return g[:, 0].reshape(n, c, h, w), g[:, 1].reshape(n, c, h, w)


def sharpness(x: torch.Tensor) -> torch.Tensor:
    r"""Mean squared Sobel gradient of every image, (N, C, H, W) -> (N,) (chapters 9 and 10).

    .. math:: s(x) = \frac{1}{CHW} \sum_{c,i,j} (\partial_x x_{cij})^2 + (\partial_y x_{cij})^2

    (the "Tenengrad" focus measure). Blurring an edge spreads the same rise over more pixels: the gradient
    gets lower and wider, and its square sums to less. A blurred copy of an image always scores lower
    than the original; compare an output's score with real images', not with an ideal number.
    """
    gx, gy = sobel_gradients(x)
    return (gx.pow(2) + gy.pow(2)).flatten(1).mean(dim=1)


def psnr(x_hat: torch.Tensor, x: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    r"""Peak signal-to-noise ratio of every image in decibels, (N, C, H, W) x 2 -> (N,) (chapter 10).

    .. math:: \mathrm{PSNR} = 10 \log_{10} \frac{R^2}{\mathrm{MSE}(\hat{x}, x)}

    with ``R = data_range`` (1 for images in [0, 1]); ``inf`` for identical images. Higher is closer.
    Agrees with ``skimage.metrics.peak_signal_noise_ratio`` image by image.
    """
    _check_pair(x_hat, x)
    mse = (x_hat.double() - x.double()).pow(2).flatten(1).mean(dim=1)
    return 10 * torch.log10(data_range**2 / mse)  # mse = 0 -> inf


def ssim(x_hat: torch.Tensor, x: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    r"""Structural similarity (Wang et al., 2004) of every image, (N, 1, H, W) x 2 -> (N,) (chapter 10).

    ``skimage.metrics.structural_similarity`` with the paper's settings: an 11 x 11 Gaussian window of
    standard deviation 1.5, population covariances, constants ``(0.01 R)^2`` and ``(0.03 R)^2``. It
    compares local means, contrasts and correlations: 1 for identical images, lower for any change.
    """
    from skimage.metrics import structural_similarity

    _check_pair(x_hat, x)
    if x.shape[1] != 1:
        raise ValueError(f"ssim takes grey-level images (N, 1, H, W), got {x.shape[1]} channels")
    a = x_hat.detach().double().cpu().squeeze(1).numpy()
    b = x.detach().double().cpu().squeeze(1).numpy()
    values = [
        structural_similarity(u, v, data_range=data_range, gaussian_weights=True, sigma=1.5,
                              use_sample_covariance=False)
        for u, v in zip(a, b)
    ]
    return torch.tensor(values, dtype=torch.float64, device=x.device)
