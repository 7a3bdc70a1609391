"""Device choice and seeding: the two lines at the top of every chapter."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["get_device", "seed_everything"]


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
