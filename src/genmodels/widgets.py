"""Explorers that also work in the static book.

Python callbacks need a live kernel; what runs in the browser works without one. :func:`latent_explorer` runs
the chapter's decoder itself in the page (ONNX); the other explorers here precompute their pictures and switch
between them with ``jslink``: they respond in Jupyter, in the published HTML book, and without any kernel.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image

__all__ = ["figure_to_png", "picture_picker", "digit_to_png", "image_explorer", "latent_explorer", "cvae_explorer"]


def figure_to_png(fig: plt.Figure, dpi: int = 80) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it (so it is not also shown inline)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def picture_picker(pictures: Sequence[bytes], options: Sequence[str], description: str = "") -> widgets.VBox:
    """Toggle buttons that show one of several precomputed PNG pictures; kernel-free via ``jslink``."""
    if len(pictures) != len(options) or not pictures:
        raise ValueError(f"need one picture per option, got {len(pictures)} pictures for {len(options)} options")
    buttons = widgets.ToggleButtons(options=list(options), description=description, style={"button_width": "2.5em"})
    stack = widgets.Stack([widgets.Image(value=p, format="png") for p in pictures], selected_index=0)
    widgets.jslink((buttons, "index"), (stack, "selected_index"))
    return widgets.VBox([buttons, stack])


# ------------------------------------------------------------------- latent explorers (chapter 3)
def digit_to_png(image: torch.Tensor, scale: int = 3) -> bytes:
    """One digit (784,) or (1, 28, 28) in [0, 1] as PNG bytes, dark on white like :func:`plot_digits`."""
    pixels = image.detach().float().cpu().reshape(28, 28).clamp(0, 1)
    grey = ((1 - pixels) * 255).round().to(torch.uint8).numpy()
    picture = Image.fromarray(np.ascontiguousarray(grey)).resize((28 * scale, 28 * scale), Image.NEAREST)  # 8-bit grey
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _stack_tree(pictures: list, depth: int, levels: list[list[widgets.Stack]]) -> widgets.Widget:
    """Nested Stacks over a nested list of PNG bytes; ``levels[d]`` collects the Stacks at depth d."""
    if depth == len(levels):
        return widgets.Image(value=pictures, format="png")
    stack = widgets.Stack([_stack_tree(p, depth + 1, levels) for p in pictures], selected_index=0)
    levels[depth].append(stack)
    return stack


def image_explorer(pictures: list, controls: Sequence[widgets.Widget]) -> widgets.VBox:
    """Show the picture ``pictures[i_1][i_2]...[i_m]`` chosen by m controls with an ``index`` (kernel-free).

    Each control (a ``SelectionSlider``, ``ToggleButtons``, ...) is ``jslink``-ed to the ``selected_index``
    of every Stack at its depth of a tree of nested Stacks, so the browser alone switches pictures.
    """
    levels: list[list[widgets.Stack]] = [[] for _ in controls]
    tree = _stack_tree(pictures, 0, levels)
    for control, stacks in zip(controls, levels):
        if len(control.options) != len(stacks[0].children):
            raise ValueError(f"control {control.description!r} has {len(control.options)} options for "
                             f"{len(stacks[0].children)} pictures at its level")
        for stack in stacks:
            stack.selected_index = control.index  # start in sync (a slider may start in its middle)
            widgets.jslink((control, "index"), (stack, "selected_index"))
    return widgets.VBox([*controls, tree])


def _slider(name: str, values: torch.Tensor) -> widgets.SelectionSlider:
    options = [f"{v:+.1f}" for v in values.tolist()]
    return widgets.SelectionSlider(options=options, value=options[len(options) // 2], description=name)


def latent_explorer(vae: torch.nn.Module, codes: torch.Tensor, labels: torch.Tensor, lim: float = 2.5):
    """The live 2-D latent plane of a VAE (chapter 3): codes coloured by digit, drag a point, see its digit.

    ``vae`` has ``encode(x) -> (mu, logvar)`` and ``decode(z) -> logits`` with a 2-D z; ``codes`` (N, 2) and
    ``labels`` (N,) are the test digits' codes and digits, the plane shows [-lim, lim]^2. The decoder runs in
    the page (ONNX, onnxruntime-web): live in Jupyter and in the built book and slides, with no kernel. The
    exporting and the front end live in :mod:`genmodels.explorers`.
    """
    from .explorers import latent_plane  # anywidget and onnx, imported only when an explorer is made

    return latent_plane(vae, codes, labels, lim)


@torch.no_grad()
def cvae_explorer(
    decode: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    latent_dim: int,
    *,
    num_classes: int = 10,
    values: torch.Tensor | None = None,
    scale: int = 4,
) -> widgets.VBox:
    """A label picker and two style sliders (z_1, z_2; the other latents at 0) for a CVAE (chapter 3).

    ``decode(z, y)`` maps codes (M, latent_dim) and labels (M,) on the CPU to pixel means (M, 784).
    """
    values = torch.linspace(-2, 2, 7) if values is None else values.float().cpu()
    n = len(values)
    y, z1, z2 = torch.meshgrid(torch.arange(num_classes, dtype=values.dtype), values, values, indexing="ij")
    z = torch.zeros(y.numel(), latent_dim)
    z[:, 0], z[:, 1] = z1.flatten(), z2.flatten()
    images = decode(z, y.flatten().long()).reshape(num_classes, n, n, -1)
    pictures = [[[digit_to_png(images[k, i, j], scale) for j in range(n)] for i in range(n)] for k in range(num_classes)]
    label = widgets.ToggleButtons(options=[str(k) for k in range(num_classes)], description="label y",
                                  style={"button_width": "2.5em"})
    return image_explorer(pictures, [label, _slider("style z_1", values), _slider("style z_2", values)])
