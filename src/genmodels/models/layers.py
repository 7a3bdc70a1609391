"""Building blocks shared by several model families."""

from __future__ import annotations

from torch import nn

__all__ = ["mlp"]


def mlp(sizes: list[int], activation: type[nn.Module] = nn.ReLU, **kwargs) -> nn.Sequential:
    """Linear layers of the given sizes with ``activation(**kwargs)`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(activation(**kwargs))
    return nn.Sequential(*layers)
