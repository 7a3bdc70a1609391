"""Fetch the JavaScript that the offline book and slides need from the npm registry, at build time.

The published book and the lecture slides load MathJax, require.js, the Jupyter widget manager, reveal.js,
anywidget and onnxruntime-web (the live explorers) from the build folder, never from a CDN, so they work with
no network. This module downloads those packages once, checks each tarball against the sha512 pinned below (npm's ``dist.integrity``), and
unpacks the files the pages use into ``_build/assets/vendor/`` (not committed), next to a small script of
ours, ``widgets-offline.js`` (package data in ``assets/``), that makes the widget manager find its fonts and work with MathJax 3::

    python -m genmodels.publish.vendor            # by hand; a no-op when the files are already there

The book build runs it by itself: ``_config.yml`` lists this module as a Sphinx extension, whose
``config-inited`` hook fetches what is missing before Sphinx checks ``html_extra_path``. That setting
copies the folder into the book (``_build/html/vendor/``); ``mathjax_path`` and ``nb_ipywidgets_js`` point
there. :mod:`genmodels.publish.slides` copies it next to the decks (``_build/slides/vendor/``).
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import resources
from pathlib import Path

from ..npm import ANYWIDGET, ONNXRUNTIME_WEB, VENDOR_DEST, NpmPackage, ensure

__all__ = ["NpmPackage", "PACKAGES", "DEFAULT_DEST", "vendor_assets", "setup", "main"]

DEFAULT_DEST = VENDOR_DEST


PACKAGES: tuple[NpmPackage, ...] = (
    NpmPackage(  # the book's math (Sphinx's default is MathJax 3 from a CDN) and the slides' math
        "mathjax", "3.2.2",
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        "mathjax", keep=("LICENSE", "es5/*"),
        # other all-in-one bundles we never load; extensions, fonts, menu and a11y stay (loaded on demand)
        drop=("es5/tex-svg*.js", "es5/tex-mml-svg.js", "es5/mml-*.js", "es5/tex-chtml.js",
              "es5/tex-chtml-full*.js", "es5/node-main.js"),
    ),
    NpmPackage(  # AMD loader: the widget manager and reveal.js are loaded through it
        "requirejs", "2.3.8",
        "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
        "requirejs", keep=("require.js", "README.md"),
    ),
    NpmPackage(  # renders the saved ipywidgets state (sliders, Stacks, jslink) without a kernel
        "@jupyter-widgets/html-manager", "1.0.15",
        "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
        "html-manager", keep=("LICENSE", "dist/embed-amd.js", "dist/*.woff2", "dist/*.woff", "dist/*.ttf",
                              "dist/*.eot", "dist/*.svg"),
    ),
    NpmPackage(  # the slides; 5.x (6.x moved the notes plugin)
        "reveal.js", "5.2.1",
        "sha512-r7//6mIM5p34hFiDMvYfXgyjXqGRta+/psd9YtytsgRlrpRzFv4RbH76TXd2qD+7ZPZEbpBDhdRhJaFgfQ7zNQ==",
        "reveal.js", keep=("LICENSE", "dist/*", "plugin/notes/*"), drop=("*.map", "*.esm.js"),
    ),
    ANYWIDGET,         # the live explorers' front end in the static book and decks (genmodels.npm)
    ONNXRUNTIME_WEB,   # runs their networks in the page
)


# Loaded before the widget manager, in the book (nb_ipywidgets_js) and in the slides: a package data file.
WIDGETS_SHIM_NAME = "widgets-offline.js"
WIDGETS_SHIM = (resources.files(__package__) / "assets" / WIDGETS_SHIM_NAME).read_text(encoding="utf-8")


def vendor_assets(dest: str | os.PathLike = DEFAULT_DEST, *, quiet: bool = False) -> dict[str, int]:
    """Make sure every package of :data:`PACKAGES` is unpacked under ``dest``; returns bytes downloaded per package.

    A package whose folder already holds a stamp with the same version and hash is left alone, so a second
    build downloads nothing.
    """
    dest = Path(dest)
    downloaded = ensure(PACKAGES, dest, quiet=quiet)
    shim = dest / WIDGETS_SHIM_NAME
    if not shim.is_file() or shim.read_text() != WIDGETS_SHIM:
        shim.write_text(WIDGETS_SHIM)
    if not quiet:
        total = sum(downloaded.values())
        print(f"offline assets in {dest}: " + (f"downloaded {total / 1e6:.1f} MB" if downloaded else "already there"))
    return downloaded


def _vendor_for_sphinx(app, config) -> None:
    from sphinx.errors import ExtensionError

    try:
        vendor_assets(Path(app.confdir) / DEFAULT_DEST, quiet=True)
    except RuntimeError as error:
        raise ExtensionError(f"offline assets: {error}") from error


def setup(app) -> dict:
    """Sphinx extension: fetch the vendored assets before the build needs them (``config-inited``)."""
    app.connect("config-inited", _vendor_for_sphinx, priority=100)  # before Sphinx checks html_extra_path (800)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genmodels.publish.vendor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dest", default=str(DEFAULT_DEST), help=f"target folder (default {DEFAULT_DEST})")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        vendor_assets(args.dest, quiet=args.quiet)
    except RuntimeError as error:
        print(f"genmodels.publish.vendor: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
