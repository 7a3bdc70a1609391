"""Live explorers: the course's trained networks, exported to ONNX, running in the page with onnxruntime-web.

One widget per explorer, an `anywidget <https://anywidget.dev>`_ whose front end is one ES module: the shared
``runtime.js`` next to this file followed by the explorer's own (``latent_plane.js``; ``conditional.js`` for the
CVAE and conditional GAN, in :mod:`.conditional`; ``diffusion.js`` and ``style.js`` in :mod:`.diffusion` and :mod:`.style`): in Jupyter it runs in the notebook, in the built book and the decks the
widget manager renders the saved widget state with the same module, with no kernel. Where the networks come
from:

* book build (a notebook executed under a book root, the folder with ``_config.yml`` and ``_toc.yml``): the
  ONNX files are written to ``_build/assets/explorers/`` (copied into the book by ``html_extra_path`` and next
  to the decks by :mod:`genmodels.publish.slides`); the page loads them, and onnxruntime-web, from the
  files :mod:`genmodels.publish.vendor` vendored (``window.__genmodels_vendor__``, set by ``widgets-offline.js``). The build also writes
  ``_build/explorer-checks/<model>.json``: fixed latent points and the PyTorch pictures there, which the
  browser test compares with what the page computes.
* Jupyter (no vendored files in the page): the front end asks the kernel for the model and onnxruntime-web's
  files by a custom message and gets them as binary buffers (onnxruntime-web fetched from npm once, pinned).

Publishing machinery rather than course material (:func:`genmodels.widgets.latent_explorer` is what a chapter
calls); it stays out of :mod:`genmodels.publish` because the chapters import it.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import warnings
from importlib import resources
from pathlib import Path

import anywidget
import torch
import traitlets
from torch import nn

from ..npm import EXPLORERS_DEST, ONNXRUNTIME_WEB, VENDOR_DEST, ensure

__all__ = ["export_onnx", "book_root", "publish_model", "LatentPlane", "latent_plane", "path_points",
           "default_path", "ConditionalPad", "conditional_pad", "attribute_pad", "DiffusionSteps", "diffusion_steps",
           "StyleMixing", "style_mixing"]

ASSETS = resources.files(__package__)   # the front ends: ES modules next to this file (package data)
RUNTIME_FILES = ("dist/ort.wasm.bundle.min.mjs", "dist/ort-wasm-simd-threaded.wasm")  # onnxruntime-web, as vendored


def export_onnx(module: nn.Module, example: torch.Tensor | tuple, input_names: list[str],
                output_names: list[str]) -> bytes:
    """``module`` (on the CPU, float32) as ONNX bytes, batch dimension dynamic (TorchScript exporter, opset 17);
    ``example``: one input, or a tuple of them."""
    buffer = io.BytesIO()
    axes = {name: {0: "batch"} for name in [*input_names, *output_names]}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice would land in the book
        example = example if isinstance(example, tuple) else (example,)
        torch.onnx.export(module, example, buffer, dynamo=False, input_names=input_names,
                          output_names=output_names, dynamic_axes=axes, opset_version=17)
    return buffer.getvalue()


def book_root(start: str | os.PathLike | None = None) -> Path | None:
    """The book's root (``$GENMODELS_BOOK_ROOT``, else the first folder up from ``start`` or the working
    directory with ``_config.yml`` and ``_toc.yml``), or None outside a book (Colab, a copied notebook)."""
    if os.environ.get("GENMODELS_BOOK_ROOT"):
        return Path(os.environ["GENMODELS_BOOK_ROOT"]).resolve()
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").is_file() and (folder / "_toc.yml").is_file():
            return folder
    return None


def publish_model(name: str, onnx: bytes, check: dict | None = None, root: Path | None = None) -> str:
    """Write ``onnx`` as ``_build/assets/explorers/<name>-<sha>.onnx`` under the book root (and ``check`` as
    ``_build/explorer-checks/<name>-<sha>.json``); returns the file name, or "" outside a book."""
    root = root or book_root()
    if root is None:
        return ""
    file = f"{name}-{hashlib.sha256(onnx).hexdigest()[:12]}.onnx"
    target = root / EXPLORERS_DEST / file
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.is_file() or target.read_bytes() != onnx:
        partial = target.with_suffix(".partial")
        partial.write_bytes(onnx)
        partial.replace(target)
    if check is not None:
        checks = root / "_build" / "explorer-checks"
        checks.mkdir(parents=True, exist_ok=True)
        (checks / file.replace(".onnx", ".json")).write_text(json.dumps(check))
    return file


def _runtime_buffers() -> list[bytes]:
    """onnxruntime-web's module and WebAssembly: the book's vendored copy, else fetched once into the cache."""
    root = book_root()
    dest = root / VENDOR_DEST if root else Path(os.environ.get("GENMODELS_CACHE_DIR", Path.home() / ".cache" /
                                                                "genmodels")) / "vendor"
    ensure([ONNXRUNTIME_WEB], dest, quiet=True)
    return [(dest / ONNXRUNTIME_WEB.folder / f).read_bytes() for f in RUNTIME_FILES]


class _OneNetwork(anywidget.AnyWidget):
    """An explorer with one network (``onnx``): in Jupyter (no vendor folder) its front end asks the kernel for
    the network and onnxruntime-web's files, and gets them as binary buffers."""

    def __init__(self, onnx: bytes, **kwargs):
        super().__init__(**kwargs)
        self._onnx = onnx
        self.on_msg(self._answer)

    def _answer(self, _widget, content: dict, _buffers) -> None:
        if isinstance(content, dict) and content.get("kind") == "assets":
            self.send({"kind": "assets"}, buffers=[self._onnx, *_runtime_buffers()])


class _PixelMeans(nn.Module):
    """z (B, 2) -> sigmoid(decode(z)) (B, 784): the Bernoulli means the explorer draws."""

    def __init__(self, vae: nn.Module):
        super().__init__()
        self.vae = vae

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.vae.decode(z)).flatten(1)


class _Encoding(nn.Module):
    """x (B, 784) -> (mu, logvar), each (B, 2)."""

    def __init__(self, vae: nn.Module):
        super().__init__()
        self.vae = vae

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.vae.encode(x)


class LatentPlane(anywidget.AnyWidget):
    """The 2-D latent plane, live: test codes coloured by digit, a point to drag, the digit decoded there, and
    a pad to draw a digit on, which the encoder places on the plane (mean and sigma) and the decoder rebuilds."""

    _esm = (ASSETS / "runtime.js").read_text() + (ASSETS / "latent_plane.js").read_text()
    decoder_file = traitlets.Unicode("").tag(sync=True)   # under explorers/ next to the vendor folder ("" = ask kernel)
    encoder_file = traitlets.Unicode("").tag(sync=True)
    codes = traitlets.List().tag(sync=True)               # [[z_1, z_2], ...] of the test digits
    labels = traitlets.List().tag(sync=True)              # their digits, 0-9
    lim = traitlets.Float(3.0).tag(sync=True)             # the plane shows [-lim, lim]^2
    z = traitlets.List([0.0, 0.0]).tag(sync=True)         # the chosen point (the front end writes it back)
    path_mode = traitlets.Bool(False).tag(sync=True)      # path mode: decode the line between two ends
    path = traitlets.List().tag(sync=True)                # its ends [[a_1, a_2], [b_1, b_2]] (written back)
    frames = traitlets.Int(8).tag(sync=True)              # how many digits along the line, ends included
    caption = traitlets.Unicode("").tag(sync=True)        # the text alternative

    def __init__(self, decoder_onnx: bytes, encoder_onnx: bytes, **kwargs):
        super().__init__(**kwargs)
        self._onnx = {"decoder": decoder_onnx, "encoder": encoder_onnx}
        self.on_msg(self._answer)

    def _answer(self, _widget, content: dict, _buffers) -> None:
        """Jupyter: the front end asks for a network and onnxruntime-web's files (there is no vendor folder)."""
        if isinstance(content, dict) and content.get("kind") == "assets":
            self.send({"kind": "assets"}, buffers=[self._onnx["decoder"], self._onnx["encoder"], *_runtime_buffers()])


def _check_points(lim: float, num: int = 12) -> torch.Tensor:
    """Fixed points of the plane for the browser test: the corners, the origin and points between grid nodes."""
    corners = torch.tensor([[-lim, -lim], [lim, lim], [0.0, 0.0], [-lim, lim]])
    between = (torch.rand(num - len(corners), 2, generator=torch.Generator().manual_seed(0)) * 2 - 1) * lim
    return torch.cat([corners, between])


def path_points(a: torch.Tensor, b: torch.Tensor, frames: int) -> torch.Tensor:
    """``frames`` points (frames, 2) evenly spaced on the segment from ``a`` to ``b``, both ends included: the
    codes path mode decodes (``linePoints`` in latent_plane.js computes the same ``a + k/(frames-1) (b - a)``)."""
    if frames < 2:
        raise ValueError(f"a path needs at least 2 frames (its two ends), got {frames}")
    t = torch.arange(frames, dtype=torch.float64).unsqueeze(1) / (frames - 1)
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return (a + t * (b - a)).float()


def default_path(codes: torch.Tensor, labels: torch.Tensor, lim: float) -> list[int] | None:
    """Path mode's starting ends: two test digits of different classes on the plane [-lim, lim]^2, the first
    such digit and the one of another class whose code lies farthest from it (a long line across the plane);
    their indices, or None when the plane holds no two classes."""
    inside = (codes.abs() <= lim).all(1).nonzero().flatten()
    if len(set(labels[inside].tolist())) < 2:
        return None
    first = int(inside[0])
    others = inside[labels[inside] != labels[first]]
    return [first, int(others[(codes[others] - codes[first]).norm(dim=1).argmax()])]


def latent_plane(vae: nn.Module, codes: torch.Tensor, labels: torch.Tensor, lim: float = 3.0,
                 name: str = "latent-plane", frames: int = 8) -> LatentPlane:
    """Export ``vae``'s decoder (and encoder) to ONNX and return the live explorer of its 2-D latent plane;
    path mode decodes ``frames`` points on the line between two ends."""
    if not (hasattr(vae, "decode") and hasattr(vae, "encode")):
        raise TypeError(f"latent_plane needs a VAE with encode(x) -> (mu, logvar) and decode(z) -> logits, "
                        f"got {type(vae).__name__}")
    codes, labels = codes.detach().float().cpu(), labels.detach().cpu().long()
    if not 2 <= frames <= 16:
        raise ValueError(f"frames (digits decoded along a path, ends included) must be 2-16, got {frames}")
    if codes.ndim != 2 or codes.shape[1] != 2 or len(labels) != len(codes):
        raise ValueError(f"need codes (N, 2) and labels (N,), got {tuple(codes.shape)} and {tuple(labels.shape)}")
    model = copy.deepcopy(vae).float().cpu().eval().requires_grad_(False)
    decoder, encoder = _PixelMeans(model).eval(), _Encoding(model).eval()   # the exporter restores their mode
    decoder_onnx = export_onnx(decoder, torch.zeros(1, 2), ["z"], ["x"])
    encoder_onnx = export_onnx(encoder, torch.zeros(1, 784), ["x"], ["mu", "logvar"])
    points = _check_points(lim)
    digits = torch.rand(4, 784, generator=torch.Generator().manual_seed(1)).pow(4)   # sparse ink, like strokes
    shown = [[round(a, 3), round(b, 3)] for a, b in codes.tolist()]                  # the codes the page gets
    pair = default_path(codes, labels, lim)
    ends = [shown[i] for i in pair] if pair else [[-lim / 2, 0.0], [lim / 2, 0.0]]
    with torch.no_grad():
        mu, logvar = encoder(digits)
        check = {"points": points.tolist(), "pixels": decoder(points).tolist(),
                 "digits": digits.tolist(), "mu": mu.tolist(), "logvar": logvar.tolist()}
        check["path"] = {"ends": ends, "pixels": decoder(path_points(*torch.tensor(ends), frames)).tolist()}
    return LatentPlane(decoder_onnx, encoder_onnx,
                       decoder_file=publish_model(f"{name}-decoder", decoder_onnx, check),
                       encoder_file=publish_model(f"{name}-encoder", encoder_onnx),
                       codes=shown, labels=labels.tolist(), lim=float(lim), path=ends, frames=frames,
                       caption=(f"Live explorer: {len(codes)} test digits' codes in the 2-D latent plane "
                                f"[-{lim:g}, {lim:g}]², coloured by digit. Drag the point, or focus the plane and "
                                "use the arrow keys; the digit the decoder draws at that point is shown beside "
                                "it and its coordinates are read out below. Draw a digit on the pad at the "
                                "right (mouse, finger, or arrow keys with space for the pen): the encoder "
                                "places it on the plane, its mean and sigma as red ellipses, and the decoder "
                                "reconstructs it. Path mode (the button, or P on the plane) decodes "
                                f"{frames} digits along the straight line between two ends: click two test "
                                "digits (or anywhere), or move the chosen end with the arrow keys; A and B choose "
                                "the end, N puts it on the nearest test digit's code."))


from .conditional import ConditionalPad, attribute_pad, conditional_pad  # noqa: E402  (it uses the helpers above)
from .diffusion import DiffusionSteps, diffusion_steps  # noqa: E402
from .style import StyleMixing, style_mixing  # noqa: E402
