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
import base64
import dataclasses
import fnmatch
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import time
import urllib.parse
import urllib.request
from importlib import resources
from pathlib import Path

__all__ = ["NpmPackage", "PACKAGES", "DEFAULT_DEST", "vendor_assets", "setup", "main"]

DEFAULT_DEST = Path("_build") / "assets" / "vendor"
STAMP = ".npm-package.json"


@dataclasses.dataclass(frozen=True)
class NpmPackage:
    """One npm package: exact version, pinned tarball hash, and which of its files to keep."""

    name: str
    version: str
    integrity: str                    # "sha512-<base64>", npm's dist.integrity of the tarball
    folder: str                       # where it lands under the vendor folder
    keep: tuple[str, ...]             # glob patterns, relative to the package root
    drop: tuple[str, ...] = ()        # glob patterns removed from what `keep` selected

    def wanted(self, relpath: str) -> bool:
        return any(fnmatch.fnmatch(relpath, p) for p in self.keep) and not any(
            fnmatch.fnmatch(relpath, p) for p in self.drop
        )


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
    NpmPackage(  # the live explorers' front end in the static book and decks: an AMD module the widget manager loads
        "anywidget", "0.11.0",
        "sha512-LHZgW2j5UjyerZSZcO+BtZPXGMSORQV2bUT480hOR5x/BXS8sOradi/71amJfMueSEnKX0dqPwTfsOGHTsyZpQ==",
        "anywidget", keep=("package.json", "dist/index.js"),
    ),
    NpmPackage(  # runs the explorers' exported networks in the page: the CPU (WebAssembly) build only
        "onnxruntime-web", "1.30.0",
        "sha512-q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZClzcV7svNc4rKY3jL02Vb7QmRMDs1SigqR4CXAfKYQ==",
        "onnxruntime-web", keep=("LICENSE", "dist/ort.wasm.bundle.min.mjs", "dist/ort-wasm-simd-threaded.wasm"),
    ),
)


# Loaded before the widget manager, in the book (nb_ipywidgets_js) and in the slides: a package data file.
WIDGETS_SHIM_NAME = "widgets-offline.js"
WIDGETS_SHIM = (resources.files(__package__) / "assets" / WIDGETS_SHIM_NAME).read_text(encoding="utf-8")


def _registry() -> str:
    """The npm registry: ``$npm_config_registry`` (as npm reads it) or the public one."""
    url = os.environ.get("npm_config_registry") or os.environ.get("NPM_CONFIG_REGISTRY") or "https://registry.npmjs.org/"
    return url if url.endswith("/") else url + "/"


def _get(url: str, attempts: int = 3, timeout: float = 60) -> bytes:
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.read()
        except OSError as error:  # URLError, timeouts, resets
            if attempt == attempts:
                raise RuntimeError(f"could not download {url} ({error}); the offline assets come from the npm "
                                   "registry at build time: check the network or set npm_config_registry") from error
            time.sleep(2 * attempt)
    raise AssertionError("unreachable")


def _sri(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _fetch_tarball(package: NpmPackage) -> bytes:
    """Download the package's tarball and check it against the pinned integrity."""
    quoted = urllib.parse.quote(package.name, safe="@")  # "@jupyter-widgets%2Fhtml-manager"
    metadata = json.loads(_get(f"{_registry()}{quoted}/{package.version}"))
    dist = metadata["dist"]
    if dist.get("integrity") != package.integrity:
        raise RuntimeError(f"{package.name}@{package.version}: the registry announces integrity "
                           f"{dist.get('integrity')}, pinned is {package.integrity}")
    data = _get(dist["tarball"])
    if _sri(data) != package.integrity:
        raise RuntimeError(f"{package.name}@{package.version}: downloaded tarball does not match its sha512")
    return data


def _extract(package: NpmPackage, data: bytes, target: Path) -> int:
    """Unpack the wanted regular files of an npm tarball (root folder ``package/``); returns the file count."""
    count = 0
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            parts = member.name.split("/")
            if not member.isfile() or len(parts) < 2 or ".." in parts or member.name.startswith("/"):
                continue
            relpath = "/".join(parts[1:])  # drop the tarball's top folder ("package")
            if not package.wanted(relpath):
                continue
            out = target / relpath
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(archive.extractfile(member).read())
            count += 1
    return count


def vendor_assets(dest: str | os.PathLike = DEFAULT_DEST, *, quiet: bool = False) -> dict[str, int]:
    """Make sure every package of :data:`PACKAGES` is unpacked under ``dest``; returns bytes downloaded per package.

    A package whose folder already holds a stamp with the same version and hash is left alone, so a second
    build downloads nothing.
    """
    dest = Path(dest)
    downloaded: dict[str, int] = {}
    for package in PACKAGES:
        target = dest / package.folder
        stamp = {"name": package.name, "version": package.version, "integrity": package.integrity}
        try:
            if json.loads((target / STAMP).read_text()) == stamp:
                continue
        except (OSError, ValueError):
            pass
        data = _fetch_tarball(package)
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        count = _extract(package, data, partial)
        (partial / STAMP).write_text(json.dumps(stamp, indent=1) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
        downloaded[package.name] = len(data)
        if not quiet:
            print(f"vendored {package.name}@{package.version}: {len(data) / 1e6:.1f} MB download, "
                  f"{count} files -> {target}")
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
