"""Figures: every function takes an optional ``ax`` and returns the matplotlib Figure."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from torchvision.utils import make_grid

from .training import History

__all__ = ["plot_digits", "plot_history"]


def _axes(ax: plt.Axes | None, figsize: tuple[float, float]) -> tuple[plt.Figure, plt.Axes]:
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def plot_digits(
    images: torch.Tensor,
    nrow: int = 10,
    *,
    ax: plt.Axes | None = None,
    title: str | None = None,
    row_labels: Sequence[str] | None = None,
) -> plt.Figure:
    """Show images (N, 1, 28, 28) or (N, 784), values in [0, 1], as a grid of ``nrow`` per row."""
    images = images.detach().float().cpu().reshape(len(images), 1, 28, 28).clamp(0, 1)
    grid = make_grid(images, nrow=nrow, padding=2, pad_value=0.15)  # (3, H, W), light grey gaps
    rows = -(-len(images) // nrow)
    fig, ax = _axes(ax, (nrow * 0.6, rows * 0.6 + (0.4 if title else 0)))
    ax.imshow(grid[0], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([] if row_labels is None else [15 + 30 * i for i in range(len(row_labels))])
    if row_labels is not None:
        ax.set_yticklabels(row_labels)
        ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    if title:
        ax.set_title(title)
    return fig


def plot_history(
    history: History, keys: Sequence[str] | None = None, *, ax: plt.Axes | None = None, title: str | None = None
) -> plt.Figure:
    """Logged values against the training step, one line per key."""
    fig, ax = _axes(ax, (6, 3.2))
    for key in keys or list(history.values):
        ax.plot(history.steps, history[key], label=key)
    ax.set_xlabel("step")
    ax.legend()
    if title:
        ax.set_title(title)
    return fig
