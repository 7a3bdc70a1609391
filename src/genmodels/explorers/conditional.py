"""The live conditional explorer (chapters 3 and 4): label buttons plus a style pad, for a CVAE's decoder or a
conditional GAN's generator, run in the page by onnxruntime-web; the same style drawn for all ten labels at once.
Chapter 8's attribute-conditioned GAN uses the same explorer with the pad on its attribute inputs
(:func:`attribute_pad`): the page's "z" is then [z, a], the pad moves a, and z stays fixed.

The network is exported with inputs ``z`` (B, latent_dim) and ``y`` (B,) (the label as a float, cast to an
integer inside the graph: no 64-bit integers in the page) and output ``x`` (B, 784), pixel means in [0, 1]. The
pad moves two chosen coordinates of z in [-lim, lim]; the other coordinates keep the ``base`` noise, which the
page can resample (a seeded normal draw, so "noise #n" is the same in every browser). How the files travel:
:mod:`genmodels.explorers` (the ONNX file under the book root, the check JSON for the browser test).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
import traitlets
from torch import nn

from . import ASSETS, _OneNetwork, export_onnx, publish_model

__all__ = ["ConditionalPad", "conditional_pad", "attribute_pad"]


class _LabelledMeans(nn.Module):
    """(z (B, D), y (B,) float) -> pixel means (B, 784), by ``means(module, z, y_long)``."""

    def __init__(self, module: nn.Module, means: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]):
        super().__init__()
        self.module, self.means = module, means

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.means(self.module, z, y.long()).flatten(1)  # flatten, not reshape(len(z)): a dynamic batch


class ConditionalPad(_OneNetwork):
    """Ten label buttons, a 2-D pad over two coordinates of z (and a resample button when z has more), the digit
    of the chosen label large and the same z under all ten labels in a row."""

    _esm = (ASSETS / "runtime.js").read_text() + (ASSETS / "conditional.js").read_text()
    decoder_file = traitlets.Unicode("").tag(sync=True)   # under explorers/ ("" = ask the kernel)
    base = traitlets.List().tag(sync=True)                # z's starting value (latent_dim floats)
    dims = traitlets.List([0, 1]).tag(sync=True)          # the two coordinates the pad moves
    lim = traitlets.Float(2.0).tag(sync=True)             # the pad shows [-lim, lim]^2
    label = traitlets.Int(0).tag(sync=True)               # the chosen label (the front end writes it back)
    point = traitlets.List([0.0, 0.0]).tag(sync=True)     # the pad's point
    noise = traitlets.Int(0).tag(sync=True)               # 0 = base, n = the n-th resampled noise
    kind = traitlets.Unicode("style").tag(sync=True)      # "style" (CVAE), "noise" (GAN), "request": the words shown
    axes = traitlets.List().tag(sync=True)                # the pad's two axis names ([] = z_i, z_j)
    resample = traitlets.Bool(True).tag(sync=True)        # a 'new noise' button when z has more than the pad's two
    caption = traitlets.Unicode("").tag(sync=True)        # the text alternative


def conditional_pad(module: nn.Module, means: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor],
                    base: torch.Tensor, *, dims: Sequence[int] = (0, 1), lim: float = 2.0, num_classes: int = 10,
                    kind: str = "style", name: str = "conditional", axes: Sequence[str] = (),
                    caption: str = "") -> ConditionalPad:
    """Export ``means(module, z, y)`` (pixel means (B, 784) or (B, 1, 28, 28)) to ONNX; the live explorer.

    ``base`` (latent_dim,) is z's starting value; the pad moves coordinates ``dims`` in [-lim, lim]. With
    ``axes`` (two names) the pad's coordinates are named and z's others stay fixed (no 'new noise'); ``caption``
    replaces the text alternative.
    """
    base = base.detach().float().cpu().flatten()
    latent_dim = len(base)
    dims = [int(d) for d in dims]
    if len(dims) != 2 or len(set(dims)) != 2 or not all(0 <= d < latent_dim for d in dims):
        raise ValueError(f"dims must be two different coordinates of z in [0, {latent_dim}), got {dims}")
    if kind not in ("style", "noise", "request"):
        raise ValueError(f"kind is 'style' (a CVAE), 'noise' (a GAN) or 'request' (attributes), got {kind!r}")
    if axes and len(axes) != 2:
        raise ValueError(f"axes names the pad's two coordinates, got {list(axes)}")
    # the wrapper in eval mode too: the exporter restores the wrapper's mode, recursively, after exporting
    network = _LabelledMeans(copy.deepcopy(module).float().cpu(), means).eval().requires_grad_(False)
    onnx = export_onnx(network, (torch.zeros(2, latent_dim), torch.zeros(2)), ["z", "y"], ["x"])
    gen = torch.Generator().manual_seed(0)
    points = base.repeat(12, 1)                              # the pad's corners and points between, then any z
    pad = torch.cat([torch.tensor([[-lim, -lim], [lim, lim], [0.0, 0.0]]),
                     (torch.rand(5, 2, generator=gen) * 2 - 1) * lim])
    points[:8, dims[0]], points[:8, dims[1]] = pad[:, 0], pad[:, 1]
    points[8:] = torch.randn(4, latent_dim, generator=gen)
    labels = torch.arange(12).float() % num_classes
    with torch.no_grad():
        pixels = network(points, labels)
    check = {"points": points.tolist(), "labels": labels.tolist(), "pixels": pixels.tolist()}
    what = "style z" if kind == "style" else "noise z"
    more = (f" The other {latent_dim - 2} coordinates of z stay fixed; 'new noise' (or the R key) draws them "
            "again." if latent_dim > 2 else "")
    return ConditionalPad(
        onnx, decoder_file=publish_model(name, onnx, check), base=[round(v, 5) for v in base.tolist()], dims=dims,
        lim=float(lim), kind=kind, axes=list(axes), resample=not axes,
        caption=caption or (f"Live explorer: choose the label y with the buttons or the number keys 0-9, and move the {what} "
                 f"on the pad (drag it, or focus the pad and use the arrow keys): coordinates z_{dims[0] + 1} and "
                 f"z_{dims[1] + 1} in [-{lim:g}, {lim:g}]." + more + " The chosen label's digit is shown large, and "
                 f"the same {what} under all ten labels below it; the label and z are read out as text."))


def attribute_pad(generator: nn.Module, z: torch.Tensor, *, lim: float = 1.5,
                  attributes: Sequence[str] = ("thickness", "slant"), name: str = "acgan-generator") -> ConditionalPad:
    """The live explorer of an attribute-conditioned generator ``generator(z, y, a)`` (chapter 8): label buttons
    and a pad over the two requested attributes ``a`` (standardized) in [-lim, lim], ``z`` (latent_dim,) fixed,
    the same request under all ten labels. Exported as ``x = G(za[:, :D], y, za[:, D:])`` of ``za = [z, a]``."""
    z = z.detach().float().cpu().flatten()
    dim = len(z)
    if len(attributes) != 2:
        raise ValueError(f"the pad moves two attributes, got {list(attributes)}")
    t, s = attributes
    return conditional_pad(
        generator, lambda m, za, y: m(za[:, :dim], y, za[:, dim:]), torch.cat([z, torch.zeros(2)]),
        dims=(dim, dim + 1), lim=lim, kind="request", name=name, axes=attributes,
        caption=(f"Live explorer: choose the label y with the buttons or the number keys 0-9, and move the "
                 f"requested {t} (across) and {s} (up) on the pad (drag it, or focus the pad and use the arrow "
                 f"keys), each in [-{lim:g}, {lim:g}] data standard deviations; the noise z stays fixed. The chosen "
                 f"label's digit is shown large, and the same request under all ten labels below it; the label, "
                 f"{t} and {s} are read out as text."))
