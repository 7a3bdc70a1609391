r"""Differentiable augmentation for GANs trained on little data (Zhao et al., 2020), chapter 4's DCGAN.

With a few thousand training images, D memorizes them: it answers "real" for the training set and "fake" for
everything else, and G is pushed towards the digits D finds easiest to fake, dropping the others. DiffAugment
applies the *same kind* of random transformation T to real and generated images before D, in D's step and in
G's: D judges T(x) and T(G(z)), and, since T is differentiable, G's gradient flows through it. D can no longer
memorize pixels, and G still learns to draw un-augmented digits (T is applied to both sides, so the data's
distribution is not changed, only how D sees it).

Policies: ``"translation"`` shifts each image by up to 1/8 of its side (zero padding); ``"cutout"`` zeros one
square of half the side at a random place. Both draw from the global torch generator.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = ["POLICIES", "diff_augment"]

POLICIES = ("translation", "cutout")


def _translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image of x (B, C, H, W) by whole pixels, up to ``ratio`` of its size each way; zeros come in."""
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (b, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (b, 1, 1), device=x.device)
    rows = (torch.arange(h, device=x.device)[None, :, None] + dy).clamp(-1, h) + 1  # (B, H, 1) into the padded image
    cols = (torch.arange(w, device=x.device)[None, None, :] + dx).clamp(-1, w) + 1  # (B, 1, W)
    padded = F.pad(x, (1, 1, 1, 1))  # a border of zeros: indices 0 and H + 1 read 0
    batch = torch.arange(b, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)  # (B, C, H, W)


def _cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of ``ratio`` of the side per image of x (B, C, H, W), centred anywhere in the image."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    ys, xs = torch.arange(h, device=x.device)[None, :, None], torch.arange(w, device=x.device)[None, None, :]
    top, left = cy - ch // 2, cx - cw // 2  # the square: rows top .. top + ch - 1, columns left .. left + cw - 1
    keep = (ys < top) | (ys >= top + ch) | (xs < left) | (xs >= left + cw)  # (B, H, W): outside the square
    return x * keep[:, None].to(x.dtype)


def diff_augment(x: torch.Tensor, policy: str) -> torch.Tensor:
    """x (B, C, H, W) with the comma-separated ``policy`` applied, e.g. ``"translation,cutout"``; "" = unchanged."""
    names = [p for p in policy.split(",") if p]
    unknown = sorted(set(names) - set(POLICIES))
    if unknown:
        raise ValueError(f"unknown augmentation {unknown}: use a comma-separated list of {POLICIES}")
    for name in names:
        x = _translation(x) if name == "translation" else _cutout(x)
    return x
