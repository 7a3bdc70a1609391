"""npm packages, fetched from the registry and checked against pinned hashes: the book's offline assets
(:mod:`genmodels.publish.vendor`) and, in Jupyter, onnxruntime-web for the live explorers (:mod:`genmodels.explorers`).

Only the standard library: the chapters' explorers need it without the ``publish`` extra.
"""

from __future__ import annotations

import base64
import dataclasses
import fnmatch
import hashlib
import io
import json
import os
import shutil
import tarfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path

__all__ = ["NpmPackage", "ANYWIDGET", "ONNXRUNTIME_WEB", "VENDOR_DEST", "EXPLORERS_DEST", "fetch_tarball",
           "extract", "ensure"]

VENDOR_DEST = Path("_build") / "assets" / "vendor"         # under the book root: the vendored packages
EXPLORERS_DEST = Path("_build") / "assets" / "explorers"   # the live explorers' ONNX networks (the book build)
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


# the live explorers' front end in the static book and decks: an AMD module the widget manager loads
ANYWIDGET = NpmPackage(
    "anywidget", "0.11.0",
    "sha512-LHZgW2j5UjyerZSZcO+BtZPXGMSORQV2bUT480hOR5x/BXS8sOradi/71amJfMueSEnKX0dqPwTfsOGHTsyZpQ==",
    "anywidget", keep=("package.json", "dist/index.js"),
)

# runs the explorers' exported networks in the page: the CPU (WebAssembly) build only
ONNXRUNTIME_WEB = NpmPackage(
    "onnxruntime-web", "1.30.0",
    "sha512-q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZClzcV7svNc4rKY3jL02Vb7QmRMDs1SigqR4CXAfKYQ==",
    "onnxruntime-web", keep=("LICENSE", "dist/ort.wasm.bundle.min.mjs", "dist/ort-wasm-simd-threaded.wasm"),
)


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


def fetch_tarball(package: NpmPackage) -> bytes:
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


def extract(package: NpmPackage, data: bytes, target: Path) -> int:
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


def ensure(packages: Iterable[NpmPackage], dest: str | os.PathLike, *, quiet: bool = False) -> dict[str, int]:
    """Make sure every package is unpacked under ``dest/<folder>``; returns bytes downloaded per package.

    A package whose folder already holds a stamp with the same version and hash is left alone.
    """
    dest = Path(dest)
    downloaded: dict[str, int] = {}
    for package in packages:
        target = dest / package.folder
        stamp = {"name": package.name, "version": package.version, "integrity": package.integrity}
        try:
            if json.loads((target / STAMP).read_text()) == stamp:
                continue
        except (OSError, ValueError):
            pass
        data = fetch_tarball(package)
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        count = extract(package, data, partial)
        (partial / STAMP).write_text(json.dumps(stamp, indent=1) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
        downloaded[package.name] = len(data)
        if not quiet:
            print(f"vendored {package.name}@{package.version}: {len(data) / 1e6:.1f} MB download, "
                  f"{count} files -> {target}")
    return downloaded
