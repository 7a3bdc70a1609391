"""Input pipeline + training loop: genmodels versus the pytorch/examples VAE recipe.

What is compared, in one process on one machine, with the same model, data, epochs and seed:

* **reference**: the pipeline of pytorch/examples' ``vae/main.py``. The digits are IDX files read by
  ``torchvision.datasets.MNIST(transform=ToTensor())`` through a ``DataLoader(batch_size=128, shuffle=True)``
  (``num_workers=1, pin_memory=True`` on CUDA and nothing extra on the CPU, as there). So every sample
  goes uint8 array -> PIL image -> ``ToTensor`` -> collate, and the loop calls ``loss.item()`` every step.
* **package**: the course's pipeline. The same digits are one float tensor already on the device.
  :func:`genmodels.data.iterate_minibatches` gathers the minibatches (one call per epoch,
  ``drop_last=False``, so both sides make ceil(4500 / 128) = 36 updates per epoch) and
  :func:`genmodels.training.fit` (through :func:`genmodels.training.train_loop`) runs the step with
  the Adam optimizer it builds itself.
* **compute floor** (context, not a competitor): the package's loss and optimizer in a bare Python
  loop over minibatches gathered before the clock starts. No input pipeline can train faster than
  this, so ``reference / floor`` is the highest speed-up a faster pipeline could give on this machine.

All three train :class:`genmodels.models.vae.MLPVAE` (784-400-20) with Adam at lr 1e-3, starting from the same
weights (the model is built once and deep-copied). The reference minimizes the negative ELBO *summed*
over the batch, as pytorch/examples does. The package minimizes :func:`genmodels.losses.vae_loss`, the
*mean* over the batch. Adam divides each gradient by its running RMS, so a constant factor on the loss
(1/128, or 1/20 on the short last batch) only changes how large ``eps`` is relative to the gradient.
The two sides therefore run the same optimization.

Only training is timed (``time.perf_counter``, CUDA synchronized), after the same few untimed warm-up
steps for both pipelines. ``--repeats`` runs the three trainings in turn, each from the same weights
and seeds, and keeps the fastest time of each: on a shared machine, a busy neighbour can only slow a
run down. Then every model is scored with :func:`genmodels.metrics.test_negative_elbo` on the 500
embedded test digits, seeded the same way so each model sees the same draw of z.

The issue's target is for the package to be at least 5x faster than the reference at no worse test loss.

    python benchmarks/bench_data_pipeline.py [--epochs N] [--device cpu|cuda] [--repeats R] [--out FILE] [--check]
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torchvision
from torch.utils.data import DataLoader

from genmodels import seed_everything, steps
from genmodels.data import DigitData, iterate_minibatches, load_mnist, write_mnist_idx
from genmodels.losses import negative_elbo, vae_loss
from genmodels.metrics import test_negative_elbo
from genmodels.models.vae import MLPVAE
from genmodels.training import fit

BATCH_SIZE = 128
LR = 1e-3
SEED = 0
WARMUP_STEPS = 3
SPEEDUP_TARGET = 5.0  # the package must be at least this many times faster ...
LOSS_TOLERANCE = 2.0  # ... and its test -ELBO at most this many nats/image above the reference's


@dataclass
class SideResult:
    """One pipeline's measurements: the fastest of its timed runs and its test loss."""

    pipeline: str
    train_seconds: float
    test_neg_elbo: float
    updates: int
    all_seconds: list[float] = field(default_factory=list)


# ------------------------------------------------------- reference: pytorch/examples vae/main.py
def reference_loader(root: str, device: torch.device) -> DataLoader:
    """torchvision MNIST + ToTensor + DataLoader, built the way pytorch/examples builds ``train_loader``."""
    kwargs = {"num_workers": 1, "pin_memory": True} if device.type == "cuda" else {}
    dataset = torchvision.datasets.MNIST(
        root, train=True, download=False, transform=torchvision.transforms.ToTensor()
    )
    return DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True, **kwargs)


def reference_epoch(model: torch.nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                    device: torch.device) -> int:
    """One epoch of pytorch/examples' ``train(epoch)``, without the prints. Returns the number of updates."""
    model.train()
    train_loss, updates = 0.0, 0
    for data, _ in loader:
        data = data.to(device)
        optimizer.zero_grad()
        logits, mu, logvar = model(data)
        loss = negative_elbo(data, logits, mu, logvar).sum()  # BCE(reduction='sum') + KLD, not divided
        loss.backward()
        train_loss += loss.item()
        optimizer.step()
        updates += 1
    return updates


def train_reference(model: torch.nn.Module, loader: DataLoader, epochs: int, device: torch.device) -> int:
    """Train ``model`` for ``epochs`` with the reference loop. Returns the number of updates."""
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    return sum(reference_epoch(model, loader, optimizer, device) for _ in range(epochs))


# ----------------------------------------------------------------------- package: genmodels
def epoch_batches(x: torch.Tensor, epochs: int) -> Iterator[tuple[torch.Tensor, ...]]:
    """``epochs`` epochs back to back: one :func:`iterate_minibatches` call (one shuffle) per epoch.

    A shuffle generator of its own keeps the batch order independent of the z-noise. That way the
    package and the compute floor see the very same batches.
    """
    shuffle = torch.Generator().manual_seed(SEED)
    return itertools.chain.from_iterable(
        iterate_minibatches(x, batch_size=BATCH_SIZE, shuffle=True, drop_last=False, rng=shuffle)
        for _ in range(epochs)
    )


def updates_for(x: torch.Tensor, epochs: int) -> int:
    """The number of updates in ``epochs`` epochs, counting the last, short batch: 36 per epoch here."""
    return epochs * math.ceil(len(x) / BATCH_SIZE)


def train_package(model: torch.nn.Module, x: torch.Tensor, epochs: int) -> int:
    """Train ``model`` for ``epochs`` with :func:`genmodels.training.fit`. Returns the number of updates."""
    updates = updates_for(x, epochs)
    fit(model, vae_loss, epoch_batches(x, epochs), updates, lr=LR, progress=False)
    return updates


def train_floor(model: torch.nn.Module, batches: list[tuple[torch.Tensor, ...]]) -> int:
    """The same loss and optimizer as the package, in a bare loop over prebuilt batches."""
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    model.train()
    for (xb,) in batches:
        loss = vae_loss(model, xb)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return len(batches)


# ------------------------------------------------------------------------------- the benchmark
def timed(device: torch.device, run: Callable[[], int]) -> tuple[float, int]:
    """(seconds, result) of ``run()``, with CUDA synchronized on both sides of the clock."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    result = run()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start, result


def warm_up(model: torch.nn.Module, loader: DataLoader, x: torch.Tensor, device: torch.device) -> None:
    """The same few untimed steps through both pipelines, on throw-away copies of the model."""
    ref_model = copy.deepcopy(model)
    optimizer = torch.optim.Adam(ref_model.parameters(), lr=LR)
    for data, _ in itertools.islice(loader, WARMUP_STEPS):
        data = data.to(device)
        optimizer.zero_grad()
        negative_elbo(data, *ref_model(data)).sum().backward()
        optimizer.step()
    fit(copy.deepcopy(model), vae_loss, epoch_batches(x, 1), WARMUP_STEPS, progress=False)


def check_same_digits(loader: DataLoader, data: DigitData) -> None:
    """The IDX round trip must give the reference exactly the package's training pixels."""
    from_idx = loader.dataset.data.float().div(255).unsqueeze(1)
    if not torch.equal(from_idx, data.x_train.cpu()):
        raise RuntimeError("the IDX files do not hold the same training digits as load_mnist()")


def seeded_run(device: torch.device, initial: torch.nn.Module,
               train: Callable[[torch.nn.Module], int]) -> tuple[float, int, torch.nn.Module]:
    """Train a fresh copy of ``initial`` after seeding. Returns (seconds, updates, trained model)."""
    model = copy.deepcopy(initial)
    seed_everything(SEED)
    seconds, updates = timed(device, lambda: train(model))
    return seconds, updates, model


def evaluate(name: str, runs: list[tuple[float, int, torch.nn.Module]], x_test: torch.Tensor) -> SideResult:
    """Best time over ``runs`` and the test -ELBO of the last model, scored with the z-noise seeded."""
    seconds = [s for s, _, _ in runs]
    _, updates, model = runs[-1]
    seed_everything(SEED)
    return SideResult(name, min(seconds), test_negative_elbo(model, x_test), updates, seconds)


def run_benchmark(epochs: int, device: torch.device, repeats: int) -> list[SideResult]:
    """Train and score the reference, the package and the compute floor, in turn, ``repeats`` times."""
    data = load_mnist()
    on_device = data.to(device)
    seed_everything(SEED)
    initial = MLPVAE().to(device)
    with tempfile.TemporaryDirectory() as root:  # torchvision's MNIST reads the files into memory at once
        write_mnist_idx(root, data)
        loader = reference_loader(root, device)
    check_same_digits(loader, data)
    floor_batches = list(epoch_batches(on_device.x_train, epochs))
    trainings = {
        "DataLoader+ToTensor (pytorch/examples)": lambda m: train_reference(m, loader, epochs, device),
        "genmodels (iterate_minibatches + fit)": lambda m: train_package(m, on_device.x_train, epochs),
        "compute floor (prebuilt batches)": lambda m: train_floor(m, floor_batches),
    }
    warm_up(initial, loader, on_device.x_train, device)
    runs = {name: [] for name in trainings}
    for _ in range(repeats):
        for name, train in trainings.items():
            runs[name].append(seeded_run(device, initial, train))
    return [evaluate(name, name_runs, on_device.x_test) for name, name_runs in runs.items()]


def summarize(results: list[SideResult], epochs: int, repeats: int, device: torch.device,
              load_before: float) -> dict:
    """Everything that is printed, as one JSON-ready dict."""
    reference, package, floor = results
    return {
        "date": time.strftime("%Y-%m-%d"),
        "device": str(device),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": _load_average(),
        "epochs": epochs,
        "repeats": repeats,
        "batch_size": BATCH_SIZE,
        "reference": asdict(reference),
        "package": asdict(package),
        "compute_floor": asdict(floor),
        "speedup": reference.train_seconds / package.train_seconds,
        "loss_difference": package.test_neg_elbo - reference.test_neg_elbo,
        "speedup_ceiling": reference.train_seconds / floor.train_seconds,
        "package_overhead_over_floor": package.train_seconds / floor.train_seconds - 1.0,
    }


def _load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def print_table(summary: dict) -> None:
    """The table, the speed-up, the loss difference and the ceiling that the floor implies."""
    rows = (summary["reference"], summary["package"], summary["compute_floor"])
    width = max(len(r["pipeline"]) for r in rows)
    print(f"{summary['epochs']} epochs x {summary['package']['updates'] // summary['epochs']} updates, "
          f"batch {summary['batch_size']}, device {summary['device']}, {summary['threads']} threads, "
          f"best of {summary['repeats']}, torch {summary['torch']}")
    print(f"{'pipeline':<{width}} | train seconds | test -ELBO (nats/image)")
    for r in rows:
        print(f"{r['pipeline']:<{width}} | {r['train_seconds']:13.2f} | {r['test_neg_elbo']:.2f}")
    print(f"speed-up: {summary['speedup']:.1f}x (package vs DataLoader+ToTensor)")
    print(f"loss difference: {summary['loss_difference']:+.2f} nats/image (package - reference; "
          "negative: the package's model is better)")
    print(f"ceiling: {summary['speedup_ceiling']:.1f}x (reference vs compute floor: the most any input "
          f"pipeline could gain here); package overhead over the floor: "
          f"{100 * summary['package_overhead_over_floor']:+.0f}%")
    busy = max(summary["load_average_before"], summary["load_average_after"])
    if busy > 0.5 * (summary["cpus"] or 1):
        print(f"warning: load average {busy:.1f} on {summary['cpus']} CPUs; other processes compete for "
              "the cores, so times are inflated and noisy (raise --repeats)")


def passes(summary: dict) -> bool:
    """The issue's target: >= 5x faster, with a test loss no more than 2 nats/image worse."""
    return summary["speedup"] >= SPEEDUP_TARGET and summary["loss_difference"] <= LOSS_TOLERANCE


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None,
                        help='epochs for every side (default: steps("bench.vae_epochs"): 10, 2 with GENMODELS_QUICK=1)')
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None,
                        help="default: cuda when available, else cpu")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side; the fastest counts (default 3)")
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON to this file")
    parser.add_argument("--check", action="store_true",
                        help=f"exit 1 unless speed-up >= {SPEEDUP_TARGET:g} and loss difference <= {LOSS_TOLERANCE:g}")
    args = parser.parse_args(argv)
    if (args.epochs is not None and args.epochs <= 0) or args.repeats <= 0:
        parser.error("--epochs and --repeats must be positive")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: CUDA is not available on this machine")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print it, write the JSON if asked to and apply ``--check``."""
    args = parse_args(argv)
    epochs = args.epochs if args.epochs is not None else steps("bench.vae_epochs")
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    load_before = _load_average()
    summary = summarize(run_benchmark(epochs, device, args.repeats), epochs, args.repeats, device, load_before)
    print_table(summary)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=2) + "\n")
    if args.check and not passes(summary):
        print(f"CHECK FAILED: the target is >= {SPEEDUP_TARGET:g}x at a test loss no more than "
              f"{LOSS_TOLERANCE:g} nats/image worse", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
