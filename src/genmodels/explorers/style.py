"""The live style-mixing explorer (chapter 11): a style-based generator's mapping and synthesis networks in the
page, run by onnxruntime-web, with the row source A, the column source B, the crossover and the noise chosen there.

One ONNX graph: inputs ``z_a`` and ``z_b`` (B, latent_dim), ``from_b`` (B, num_layers) (1 where the layer takes
B's style, 0 where it takes A's) and ``noise`` (B, 2058): the six per-layer noise images flattened and joined
(7 x 7, 7 x 7, 14 x 14, 14 x 14, 28 x 28, 28 x 28); output ``x`` (B, 784), the image in [0, 1]. Noise #0 is the
chapter's fixed noise; 'resample noise' draws noise #n with runtime.js's seeded ``normals``. How the files
travel: :mod:`genmodels.explorers`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import traitlets
from torch import nn

from ..models.stylegan import LAYER_RESOLUTION
from . import ASSETS, _OneNetwork, export_onnx, publish_model

__all__ = ["StyleMixing", "style_mixing", "CROSSOVERS"]

NOISE_SIZES = [r * r for r in LAYER_RESOLUTION]       # one noise image per style layer, flattened
# (name, first layer from B): layers >= it take the column source's style
CROSSOVERS = (("none", 6), ("28x28 (fine)", 4), ("14x14 + 28x28", 2), ("7x7 (2nd) + finer", 1), ("all", 0))


class _StyleMix(nn.Module):
    """(z_a, z_b (B, D), from_b (B, L), noise (B, 2058)) -> x (B, 784): w_b at the layers where from_b > 0.5."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, z_a: torch.Tensor, z_b: torch.Tensor, from_b: torch.Tensor, noise: torch.Tensor):
        w_a, w_b = self.generator.mapping(z_a), self.generator.mapping(z_b)              # (B, w_dim)
        ws = torch.where(from_b[:, :, None] > 0.5, w_b[:, None], w_a[:, None])         # (B, L, w_dim)
        images = [n.reshape(-1, 1, r, r) for n, r in zip(noise.split(NOISE_SIZES, dim=1), LAYER_RESOLUTION)]
        # G.synthesize(ws, images), its loop written out: synthesize expands the constant to len(ws) images,
        # which the exporter would freeze at the example's batch size; ws.shape[0] stays dynamic
        g = self.generator
        x = g.const.expand(ws.shape[0], -1, -1, -1)                                    # (B, c7, 7, 7)
        for i, layer in enumerate(g.layers):
            x = layer(x, ws[:, i], images[i])
        return torch.sigmoid(g.to_image(x)).flatten(1)                                 # (B, 784)


def flat_noise(noise: Sequence[torch.Tensor]) -> torch.Tensor:
    """One sample's per-layer noise (as :func:`make_noise` draws it, batch 1) as the graph's (1, 2058) input."""
    if len(noise) != len(LAYER_RESOLUTION) or any(n[0].numel() != s for n, s in zip(noise, NOISE_SIZES)):
        raise ValueError(f"noise must be one (1, 1, r, r) image per layer, r = {LAYER_RESOLUTION}, "
                         f"got {[tuple(n.shape) for n in noise]}")
    return torch.cat([n[:1].detach().float().cpu().flatten(1) for n in noise], dim=1)


class StyleMixing(_OneNetwork):
    """Row-source and column-source buttons, a crossover slider and 'resample noise': sources A and B and their
    mix, computed in the page by the exported mapping and synthesis networks."""

    _esm = (ASSETS / "runtime.js").read_text() + (ASSETS / "style.js").read_text()
    mixer_file = traitlets.Unicode("").tag(sync=True)     # under explorers/ ("" = ask the kernel)
    z_a = traitlets.List().tag(sync=True)                 # the row sources' codes (N x latent_dim)
    z_b = traitlets.List().tag(sync=True)                 # the column sources' codes
    noise_0 = traitlets.List().tag(sync=True)             # noise #0: the chapter's fixed noise (2058 floats)
    crossovers = traitlets.List().tag(sync=True)          # [[name, first layer from B], ...]
    num_layers = traitlets.Int(6).tag(sync=True)
    a = traitlets.Int(0).tag(sync=True)                   # the chosen sources, crossover and noise (written back)
    b = traitlets.Int(0).tag(sync=True)
    crossover = traitlets.Int(1).tag(sync=True)
    noise = traitlets.Int(0).tag(sync=True)               # 0 = noise_0, n = the n-th seeded normal draw
    caption = traitlets.Unicode("").tag(sync=True)        # the text alternative


def style_mixing(generator: nn.Module, z_a: torch.Tensor, z_b: torch.Tensor, noise: Sequence[torch.Tensor], *,
                 crossovers: Sequence[tuple[str, int]] = CROSSOVERS, crossover: int = 1,
                 name: str = "style-mixer") -> StyleMixing:
    """Export ``generator`` (a :class:`StyleGenerator`: ``mapping``, ``synthesize(ws, noise)``) to ONNX; the live
    style-mixing explorer over the row sources ``z_a`` and column sources ``z_b`` (N, latent_dim), starting
    from ``noise`` (one (1, 1, r, r) image per layer) and crossover ``crossovers[crossover]``."""
    latent_dim, num_layers = generator.config.latent_dim, len(generator.layers)
    z_a, z_b = (z.detach().float().cpu() for z in (z_a, z_b))
    if z_a.ndim != 2 or z_b.ndim != 2 or z_a.shape[1] != latent_dim or z_b.shape[1] != latent_dim:
        raise ValueError(f"z_a and z_b must be (N, {latent_dim}), got {tuple(z_a.shape)} and {tuple(z_b.shape)}")
    if not all(0 <= first <= num_layers for _, first in crossovers) or not 0 <= crossover < len(crossovers):
        raise ValueError(f"crossovers are (name, first layer from B in 0..{num_layers}) and crossover an index "
                         f"into them, got {list(crossovers)} and {crossover}")
    noise_0 = flat_noise(noise)
    mixer = _StyleMix(copy.deepcopy(generator).float().cpu()).eval().requires_grad_(False)
    onnx = export_onnx(mixer, (torch.zeros(2, latent_dim), torch.zeros(2, latent_dim), torch.zeros(2, num_layers),
                               torch.zeros(2, noise_0.shape[1])), ["z_a", "z_b", "from_b", "noise"], ["x"])
    gen = torch.Generator().manual_seed(0)                 # the build's check: every crossover, two noises
    cases = [(i % len(z_a), (i * 5 + 1) % len(z_b), c) for i, (_, c) in enumerate(crossovers)]
    other = torch.randn(1, noise_0.shape[1], generator=gen)
    from_b = torch.tensor([[float(k >= c) for k in range(num_layers)] for _, _, c in cases] * 2)
    with torch.no_grad():
        pixels = mixer(z_a[[i for i, _, _ in cases] * 2], z_b[[j for _, j, _ in cases] * 2], from_b,
                       torch.cat([noise_0.expand(len(cases), -1), other.expand(len(cases), -1)]))
    check = {"z_a": z_a.tolist(), "z_b": z_b.tolist(), "cases": [list(c) for c in cases] * 2, "from_b": from_b.tolist(),
             "noise": [noise_0[0].tolist()] * len(cases) + [other[0].tolist()] * len(cases), "pixels": pixels.tolist()}
    names = ", ".join(n for n, _ in crossovers)
    return StyleMixing(
        onnx, mixer_file=publish_model(name, onnx, check), z_a=z_a.tolist(), z_b=z_b.tolist(),
        noise_0=noise_0[0].tolist(), crossovers=[[n, int(c)] for n, c in crossovers], num_layers=num_layers,
        crossover=crossover,
        caption=(f"Live explorer: style mixing, computed in your browser by the style-based generator. Choose the "
                 f"row source A (buttons A1-A{len(z_a)}) and the column source B (B1-B{len(z_b)}), and with the "
                 f"slider (arrow keys) which layers take B's style: {names}; the other layers take A's. The picture "
                 "in the middle is the mix, with A and B themselves on either side. 'Resample noise' (or the R key) "
                 "draws new noise images for every layer, the same for all three pictures. The sources, the "
                 "crossover and the noise are read out as text."))
