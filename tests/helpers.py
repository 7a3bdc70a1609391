"""Small models shared by several test files (imported as ``from helpers import ...``; pytest puts tests/ on the path)."""

from __future__ import annotations

import torch
from torch import nn


class Shift(nn.Module):
    """The 1-D generator G(z) = z + b, with b starting at 0: the smallest model a GAN step can move."""

    def __init__(self):
        super().__init__()
        self.b = nn.Parameter(torch.zeros(1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z + self.b
