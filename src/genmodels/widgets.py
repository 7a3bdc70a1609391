"""Explorers that also work in the static book.

Python callbacks need a live kernel; what runs in the browser works without one. :func:`latent_explorer`,
:func:`cvae_explorer`, :func:`cgan_explorer`, :func:`acgan_explorer`,
:func:`ddim_explorer` and
:func:`style_mixing_explorer` run the chapter's network itself in the page
(ONNX); the other
explorers here precompute their pictures and
switch between them with ``jslink``: they respond in Jupyter, in the published HTML book, and without any kernel.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image

__all__ = ["figure_to_png", "picture_picker", "digit_to_png", "image_explorer", "latent_explorer", "cvae_explorer", "cgan_explorer",
           "acgan_explorer", "ddim_explorer", "style_mixing_explorer"]


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


def latent_explorer(vae: torch.nn.Module, codes: torch.Tensor, labels: torch.Tensor, lim: float = 2.5,
                    frames: int = 8):
    """The live 2-D latent plane of a VAE (chapter 3): codes coloured by digit, drag a point, see its digit.

    ``vae`` has ``encode(x) -> (mu, logvar)`` and ``decode(z) -> logits`` with a 2-D z; ``codes`` (N, 2) and
    ``labels`` (N,) are the test digits' codes and digits, the plane shows [-lim, lim]^2; path mode decodes
    ``frames`` digits on the line between two chosen codes. The decoder runs in
    the page (ONNX, onnxruntime-web): live in Jupyter and in the built book and slides, with no kernel. The
    exporting and the front end live in :mod:`genmodels.explorers`.
    """
    from .explorers import latent_plane  # anywidget and onnx, imported only when an explorer is made

    return latent_plane(vae, codes, labels, lim, frames=frames)


def cvae_explorer(cvae: torch.nn.Module, *, lim: float = 2.0, dims: Sequence[int] = (0, 1)):
    """The live CVAE explorer (chapter 3): label buttons and a style pad over z's coordinates ``dims`` (the
    others at 0), the same style under all ten labels. ``cvae`` has ``decode(z, y) -> logits`` (B, 784); its
    decoder runs in the page (ONNX, onnxruntime-web), live in Jupyter and in the built book and slides."""
    from .explorers import conditional_pad

    if not hasattr(cvae, "decode") or not hasattr(cvae, "config"):
        raise TypeError(f"cvae_explorer needs a CVAE with decode(z, y) and a config, got {type(cvae).__name__}")
    return conditional_pad(cvae, lambda m, z, y: torch.sigmoid(m.decode(z, y)), torch.zeros(cvae.config.latent_dim),
                           dims=dims, lim=lim, kind="style", name="cvae-decoder")


def cgan_explorer(generator: torch.nn.Module, z: torch.Tensor, *, lim: float = 2.5, dims: Sequence[int] = (0, 1)):
    """The live conditional-GAN explorer (chapter 4): label buttons, a noise pad over coordinates ``dims`` of z
    (starting at ``z`` (latent_dim,)), a resample button for the others, the same noise under all ten labels.
    ``generator(z, y)`` -> digits in [0, 1]; it runs in the page (ONNX, onnxruntime-web)."""
    from .explorers import conditional_pad

    return conditional_pad(generator, lambda m, z_, y: m(z_, y), z, dims=dims, lim=lim, kind="noise",
                           name="cgan-generator")


def acgan_explorer(generator: torch.nn.Module, z: torch.Tensor, *, lim: float = 1.5,
                   attributes: Sequence[str] = ("thickness", "slant")):
    """The live attribute explorer (chapter 8): label buttons and a pad over the requested ``attributes``
    (standardized, in [-lim, lim]) of ``generator(z, y, a)``, ``z`` (latent_dim,) fixed, the same request under
    all ten labels; the generator runs in the page (ONNX, onnxruntime-web)."""
    from .explorers import attribute_pad

    return attribute_pad(generator, z, lim=lim, attributes=attributes)


def ddim_explorer(denoiser: torch.nn.Module, schedule, x_T: torch.Tensor, *, label: int = 7, guidance: float = 2.0,
                  clip_x0: float | None = 1.0, num_steps: int = 25):
    """The live diffusion explorer (chapter 12): one digit's DDIM reverse process from ``x_T`` (1, 28, 28),
    ``num_steps`` guided steps of ``denoiser`` on ``schedule``, run in the page (ONNX, onnxruntime-web); label
    buttons, 'new noise' and a step slider showing x_t and the guess of x_0, live in Jupyter, the book and slides."""
    from .explorers import diffusion_steps

    return diffusion_steps(denoiser, schedule, x_T, label=label, guidance=guidance, clip_x0=clip_x0,
                           num_steps=num_steps)


def style_mixing_explorer(generator: torch.nn.Module, z_a: torch.Tensor, z_b: torch.Tensor,
                          noise: Sequence[torch.Tensor], *, crossovers: Sequence[tuple[str, int]] | None = None,
                          crossover: int = 1):
    """The live style-mixing explorer (chapter 11): row sources ``z_a`` and column sources ``z_b`` (N, latent_dim)
    of a style-based ``generator``, ``crossovers`` [(name, first layer taking B's style), ...] chosen by a slider
    (default: none, fine, 14x14 + finer, 7x7 (2nd) + finer, all), and 'resample noise' (starting from ``noise``,
    one (1, 1, r, r) image per layer). Mapping and synthesis run in the page (ONNX, onnxruntime-web), live in
    Jupyter, the book and slides."""
    from .explorers import style_mixing
    from .explorers.style import CROSSOVERS

    return style_mixing(generator, z_a, z_b, noise, crossovers=crossovers or CROSSOVERS, crossover=crossover)
