"""Device choice and seeding: :func:`setup_chapter`, the one call at the top of every chapter."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from .budget import is_quick

__all__ = ["get_device", "seed_everything", "setup_chapter"]


def get_device(prefer: str | None = None) -> torch.device:
    """Return the best available device: CUDA, then Apple's MPS, then the CPU.

    ``prefer`` (or the environment variable ``GENMODELS_DEVICE``) forces one, e.g. ``"cpu"`` to compare
    a GPU run with the CPU. Asking for a device that is not there is an error, not a silent fallback.
    """
    prefer = prefer or os.environ.get("GENMODELS_DEVICE") or None
    if prefer is not None:
        device = torch.device(prefer)
        available = {
            "cpu": True,
            "cuda": torch.cuda.is_available(),
            "mps": torch.backends.mps.is_available(),
        }.get(device.type)
        if not available:
            raise ValueError(
                f"device {prefer!r} is not available on this machine; "
                "use 'cpu', or unset GENMODELS_DEVICE to pick the best one automatically"
            )
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> int:
    """Seed Python's ``random``, NumPy and PyTorch (every CUDA device too) with one number.

    Runs on the same device and software then repeat exactly; CPU and GPU draw different numbers.
    Returns the seed, so a notebook can print it.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return seed


def setup_chapter(seed: int = 0) -> torch.device:
    """The first cell of every chapter: seed everything, pick the device, print both; returns the device.

    On the CPU it keeps PyTorch to one thread: the course's networks are small, extra threads do not help
    them, and on a shared or busy CPU they slow them down up to 10x.
    """
    seed_everything(seed)
    device = get_device()
    if device.type == "cpu":
        torch.set_num_threads(1)
    print(f"device: {device}, budget: {'quick' if is_quick() else 'full'}")
    return device
