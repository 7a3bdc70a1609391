"""Figures: every function takes an optional ``ax`` and returns the matplotlib Figure."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import torch
from torchvision.utils import make_grid

from .training import History

__all__ = [
    "plot_digits",
    "plot_history",
    "plot_latent_scatter",
    "plot_latent_grid",
    "plot_toy_samples",
    "animate_toy_samples",
    "animation_to_html",
]


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


def plot_latent_scatter(
    z: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    ax: plt.Axes | None = None,
    title: str | None = None,
    size: float = 4.0,
) -> plt.Figure:
    """2-D codes (N, 2) as points coloured by their label (N,) 0-9, with a legend (chapter 3)."""
    z = z.detach().float().cpu().numpy()
    fig, ax = _axes(ax, (4.8, 4.2))
    if labels is None:
        ax.scatter(z[:, 0], z[:, 1], s=size, alpha=0.6, linewidths=0)
    else:
        labels = labels.detach().cpu().numpy()
        cmap = plt.get_cmap("tab10")
        for k in sorted(set(labels.tolist())):
            chosen = labels == k
            ax.scatter(z[chosen, 0], z[chosen, 1], s=size, color=cmap(k % 10), alpha=0.7, linewidths=0, label=str(k))
        ax.legend(markerscale=3, fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_aspect("equal", adjustable="datalim")
    if title:
        ax.set_title(title)
    return fig


@torch.no_grad()
def plot_latent_grid(
    decode: Callable[[torch.Tensor], torch.Tensor],
    *,
    lim: float = 2.5,
    num_per_side: int = 15,
    ax: plt.Axes | None = None,
    title: str | None = None,
) -> plt.Figure:
    """Decode a grid of 2-D codes over [-lim, lim]^2 and tile the digits where their codes are (chapter 3).

    ``decode`` maps codes (M, 2) on the CPU to pixel means (M, 784) in [0, 1]. The axes are in latent
    units (z_1 to the right, z_2 up), so the picture can be read next to :func:`plot_latent_scatter`.
    """
    values = torch.linspace(-lim, lim, num_per_side)
    z2, z1 = torch.meshgrid(values.flip(0), values, indexing="ij")  # top row = largest z_2
    codes = torch.stack([z1.flatten(), z2.flatten()], dim=1)  # (num^2, 2), row-major from the top left
    images = decode(codes).detach().float().cpu().reshape(-1, 1, 28, 28).clamp(0, 1)
    grid = make_grid(images, nrow=num_per_side, padding=0)[0].numpy()  # (28 num, 28 num)
    half_step = lim / (num_per_side - 1) if num_per_side > 1 else 0.5
    extent = (-lim - half_step, lim + half_step, -lim - half_step, lim + half_step)
    fig, ax = _axes(ax, (5, 5))
    ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1, extent=extent, interpolation="nearest")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return fig


def _draw_toy(ax: plt.Axes, samples: torch.Tensor, modes: torch.Tensor, radius: float | None, size: float):
    """Scatter 2-D samples over the true modes (red crosses), with circles of ``radius`` around the modes."""
    x, m = samples.detach().float().cpu(), modes.detach().float().cpu()
    points = ax.scatter(x[:, 0], x[:, 1], s=size, alpha=0.5, linewidths=0, color="tab:blue")
    ax.scatter(m[:, 0], m[:, 1], marker="x", s=30, color="tab:red", linewidths=1.2, zorder=3)
    if radius is not None:
        for centre in m.tolist():
            ax.add_patch(plt.Circle(centre, radius, fill=False, color="tab:red", linewidth=0.6, alpha=0.6))
    span = (m.abs().max().item() or 1.0) * 1.35
    ax.set_xlim(-span, span)
    ax.set_ylim(-span, span)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    return points


def plot_toy_samples(
    samples: torch.Tensor,
    modes: torch.Tensor,
    *,
    radius: float | None = None,
    ax: plt.Axes | None = None,
    title: str | None = None,
    size: float = 3.0,
) -> plt.Figure:
    """Generated 2-D samples (N, 2) over the true modes (K, 2) of a toy (chapters 4-5).

    ``radius`` draws a circle around each mode, e.g. 3 standard deviations: the "high quality" zone of
    :func:`genmodels.metrics.mode_coverage`.
    """
    fig, ax = _axes(ax, (3.2, 3.2))
    _draw_toy(ax, samples, modes, radius, size)
    if title:
        ax.set_title(title, fontsize="medium")
    return fig


def animate_toy_samples(
    frames: Sequence[torch.Tensor], modes: torch.Tensor, titles: Sequence[str], *, interval: int = 250, size: float = 3.0
):
    """A matplotlib animation of 2-D samples over the training steps (chapter 5); show it with ``to_jshtml()``.

    ``frames`` is a list of (N, 2) sample tensors, ``titles`` one caption per frame. The figure is closed,
    so only the animation is displayed.
    """
    from matplotlib import animation

    fig, ax = plt.subplots(figsize=(3.2, 3.4))
    points = _draw_toy(ax, frames[0], modes, None, size)
    caption = ax.set_title(titles[0], fontsize="medium")

    def show(i: int):
        points.set_offsets(frames[i].detach().float().cpu().numpy())
        caption.set_text(titles[i])
        return points, caption

    movie = animation.FuncAnimation(fig, show, frames=len(frames), interval=interval, blit=False)
    plt.close(fig)
    return movie


# matplotlib's JavaScript player draws its buttons with Font Awesome icons loaded from a CDN: the book works
# offline, so the stylesheet goes and each icon becomes a plain Unicode symbol.
_PLAYER_ICONS = {  # the <i> tags of matplotlib's player, in its order
    "fa fa-minus": "\u2212", "fa fa-fast-backward": "\u23ee", "fa fa-step-backward": "\u23f4",
    "fa fa-play fa-flip-horizontal": "\u25c0", "fa fa-pause": "\u23f8", "fa fa-play": "\u25b6",
    "fa fa-step-forward": "\u23f5", "fa fa-fast-forward": "\u23ed", "fa fa-plus": "+",
}


def animation_to_html(movie, fps: int = 3, default_mode: str = "once") -> str:
    """``movie.to_jshtml()`` with no request to the internet: display it with ``IPython.display.HTML``."""
    html = movie.to_jshtml(fps=fps, default_mode=default_mode)
    html, removed = re.subn(r'<link rel="stylesheet"\s+href="https://[^"]*font-awesome[^"]*">', "", html)
    if removed != 1:
        raise RuntimeError("matplotlib's animation player changed: its Font Awesome stylesheet was not found")
    for icon, symbol in _PLAYER_ICONS.items():
        html = html.replace(f'<i class="{icon}"></i>', symbol)
    if "https://" in html or 'class="fa ' in html:
        raise RuntimeError("matplotlib's animation player still refers to the internet or to Font Awesome")
    return html

