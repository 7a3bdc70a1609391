"""VAE quality at equal training time, and how often the CVAE draws the digit it is asked for (chapter 3).

Part 1, **the chapter's VAE against the pytorch/examples VAE, for the same wall-clock time**, on the same
4,500 embedded training digits, scored on the 500 held-out ones. Both sides train on **dynamically binarized**
digits (every batch a fresh Bernoulli draw of its grey levels, :func:`genmodels.data.binarized`) and are scored
on one fixed, seeded binarization of the test digits (:func:`genmodels.data.binarize`): a Bernoulli decoder is a
probability only on binary pixels, so only then are the -ELBO and -IWAE below bounds on a true -log p(x) (chapter 3):

* **reference**: pytorch/examples' ``vae/main.py`` recipe. :class:`genmodels.models.MLPVAE` (784-400-20, ReLU,
  Bernoulli decoder), Adam at a constant lr 1e-3, batch 128, the negative ELBO *summed* over the batch
  (BCE(reduction='sum') + KLD). Its minibatches come from the same in-memory tensors as the chapter's (the
  input pipeline is benchmarked separately in ``bench_data_pipeline.py``), so only the model and the
  optimization recipe differ.
* **chapter**: the chapter-3 recipe. :class:`genmodels.models.ConvVAE` (two stride-2 convolutions, 16 and 32
  channels, 20-D latent, two transposed convolutions back), Adam at lr 2e-3 decayed to 0 along a cosine,
  batch 128, the negative ELBO *averaged* over the batch. The cosine runs over the time budget: at each step
  the lr factor is 0.5 (1 + cos(pi t / T)), with t the training time spent so far.

Each side trains until its training time (the clock stops during nothing but training) reaches the budget
``T`` (``--seconds``, default ``steps("bench.vae_seconds")``: 120 s, 15 s under GENMODELS_QUICK=1). Then both
are scored on the 500 binarized test digits with the same seeds: the test negative ELBO (one z per digit, analytic KL),
and the importance-weighted bound IWAE_100 (:func:`genmodels.metrics.iwae_bound`), a tighter estimate of
-log p(x). Lower is better for -ELBO and -IWAE, in nats per image (summed over the 784 pixels).

Part 2, **the CVAE's samples judged by a classifier**: the chapter's :class:`genmodels.models.ConditionalVAE`
(2-D latent) is trained with the chapter's recipe (``steps("bench.vae_cvae")`` steps, Adam 3e-3 with a cosine, on
dynamically binarized digits),
draws 100 samples of each digit from the prior, and the chapter-1 digit classifier
(:func:`genmodels.judges.load_digit_classifier`, trained on the 4,500 real training digits) says which digit
each one is. Reported next to the classifier's accuracy on the 500 real test digits. The issue's target: at
least 95% of the samples recognised as the requested digit.

On a shared machine, other processes slow both sides; the printed load average says how busy it was. The
equal-time comparison is only fair when both sides see the same load, so ``--repeats`` alternates the two
sides and reports every run.

    python benchmarks/bench_vae_quality.py [--seconds T] [--repeats R] [--threads N] [--device cpu|cuda] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from genmodels import seed_everything, steps
from genmodels.data import DigitData, binarize, binarized, infinite_minibatches, load_mnist
from genmodels.judges import load_digit_classifier
from genmodels.losses import cvae_loss, negative_elbo, vae_loss
from genmodels.metrics import accuracy, iwae_bound, per_label_accuracy, test_negative_elbo
from genmodels.models import MLPVAE, ConditionalVAE, ConvVAE, ConvVAEConfig, CVAEConfig

BATCH_SIZE = 128
SEED = 0
IWAE_SAMPLES = 100
CVAE_SAMPLES_PER_LABEL = 100
CVAE_TARGET = 0.95


def _load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ------------------------------------------------------------------------------- the two recipes
def reference_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, fraction: float) -> None:
    """pytorch/examples: Adam 1e-3 on the negative ELBO summed over the batch; no schedule."""
    loss = negative_elbo(x, *model(x)).sum()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def chapter_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, fraction: float) -> None:
    """Chapter 3: Adam 2e-3 times the cosine factor of the time spent, on the mean negative ELBO."""
    for group in optimizer.param_groups:
        group["lr"] = 2e-3 * 0.5 * (1 + math.cos(math.pi * min(fraction, 1.0)))
    loss = vae_loss(model, x)["loss"]
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


SIDES: dict[str, tuple[Callable[[], torch.nn.Module], float, Callable]] = {
    "pytorch/examples VAE (MLP 784-400-20, Adam 1e-3)": (MLPVAE, 1e-3, reference_step),
    "chapter VAE (ConvVAE 16-32, 20-D, Adam 2e-3 + cosine)": (lambda: ConvVAE(ConvVAEConfig()), 2e-3, chapter_step),
}


def train_for(seconds: float, build: Callable[[], torch.nn.Module], lr: float, step: Callable,
              data: DigitData, device: torch.device) -> tuple[torch.nn.Module, int, float]:
    """Train a fresh model until ``seconds`` of training time are spent. Returns (model, steps, seconds)."""
    seed_everything(SEED)
    model = build().to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    rng = torch.Generator().manual_seed(SEED)
    batches = binarized(infinite_minibatches(data.x_train, batch_size=BATCH_SIZE, rng=rng), rng)
    spent, num_steps = 0.0, 0
    while spent < seconds:
        _sync(device)
        start = time.perf_counter()
        (x,) = next(batches)
        step(model, optimizer, x, spent / seconds)
        _sync(device)
        spent += time.perf_counter() - start
        num_steps += 1
    return model.eval(), num_steps, spent


def binarized_test_digits(data: DigitData) -> torch.Tensor:
    """The 500 held-out digits, binarized once with a fixed seed: the same binary images for every model."""
    return binarize(data.x_test, torch.Generator().manual_seed(SEED))


def score(model: torch.nn.Module, data: DigitData) -> dict:
    """Test -ELBO and -IWAE_100 on the 500 binarized held-out digits, seeded the same way for every model."""
    x_test = binarized_test_digits(data)
    seed_everything(SEED)
    nelbo = test_negative_elbo(model, x_test)
    niwae = -iwae_bound(model, x_test, IWAE_SAMPLES, rng=torch.Generator().manual_seed(SEED))
    return {"test_neg_elbo": nelbo, "test_neg_iwae100": niwae}


def equal_time_comparison(seconds: float, repeats: int, data: DigitData, device: torch.device) -> list[dict]:
    """Every side trained ``repeats`` times for ``seconds``, alternating sides, each run scored."""
    runs = []
    for repeat in range(repeats):
        for name, (build, lr, step) in SIDES.items():
            load = _load_average()
            model, num_steps, spent = train_for(seconds, build, lr, step, data, device)
            runs.append({"side": name, "repeat": repeat, "steps": num_steps, "train_seconds": spent,
                         "load_average": load, **score(model, data)})
            print(f"  {name}: {num_steps} steps in {spent:.1f} s -> test -ELBO {runs[-1]['test_neg_elbo']:.2f}, "
                  f"-IWAE_100 {runs[-1]['test_neg_iwae100']:.2f} (load {load:.1f})", flush=True)
    return runs


# ------------------------------------------------------------------------------------------ CVAE
def cvae_judged(num_steps: int, data: DigitData, device: torch.device) -> dict:
    """The chapter's CVAE, trained with the chapter's recipe, judged by the chapter-1 classifier."""
    seed_everything(SEED)
    model = ConditionalVAE(CVAEConfig(latent_dim=2)).to(device)
    rng = torch.Generator().manual_seed(SEED)
    batches = binarized(infinite_minibatches(data.x_train, data.y_train, batch_size=BATCH_SIZE, rng=rng), rng)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: 0.5 * (1 + math.cos(math.pi * i / num_steps)))
    start = time.perf_counter()
    for _ in range(num_steps):
        loss = cvae_loss(model, *next(batches))["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    model.eval()
    train_seconds = time.perf_counter() - start
    judge, _ = load_digit_classifier(data, device)
    labels = torch.arange(10, device=device).repeat_interleave(CVAE_SAMPLES_PER_LABEL)
    samples = model.sample(labels, rng=torch.Generator().manual_seed(SEED)).reshape(-1, 1, 28, 28)
    return {
        "steps": num_steps,
        "train_seconds": train_seconds,
        "judge_real_test_accuracy": accuracy(judge, data.x_test, data.y_test),
        "sample_accuracy": accuracy(judge, samples, labels),
        "per_label": per_label_accuracy(judge, samples, labels),
        "judge_steps": steps("ch01.classifier"),
    }


# ------------------------------------------------------------------------------------------ report
def print_report(summary: dict) -> None:
    print(f"\nequal wall-clock: {summary['seconds']:.0f} s of training each, {summary['threads']} threads, "
          f"device {summary['device']}, {summary['repeats']} run(s) per side")
    width = max(len(name) for name in SIDES)
    print(f"{'model':<{width}} | steps | test -ELBO | test -IWAE_100   (binarized test digits, nats per image, "
          "lower is better)")
    for run in summary["runs"]:
        print(f"{run['side']:<{width}} | {run['steps']:5d} | {run['test_neg_elbo']:10.2f} | {run['test_neg_iwae100']:10.2f}")
    print(f"chapter - reference, mean over runs: {summary['elbo_difference']:+.2f} nats/image (-ELBO), "
          f"{summary['iwae_difference']:+.2f} (-IWAE_100); negative: the chapter's VAE is better")
    c = summary["cvae"]
    print(f"\nCVAE ({c['steps']} steps, {c['train_seconds']:.0f} s): {c['sample_accuracy']:.1%} of "
          f"{10 * CVAE_SAMPLES_PER_LABEL} samples recognised as the requested digit (target {CVAE_TARGET:.0%}); "
          f"the judge ({c['judge_steps']} steps) on the 500 real test digits: {c['judge_real_test_accuracy']:.1%}")
    print("per label: " + ", ".join(f"{k}: {a:.0%}" for k, a in enumerate(c["per_label"])))
    print(f"load average: {summary['load_average_before']:.1f} before, {summary['load_average_after']:.1f} after "
          f"({summary['cpus']} CPUs)")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=None,
                        help='training time of each VAE (default: steps("bench.vae_seconds"): 120, 15 when quick)')
    parser.add_argument("--repeats", type=int, default=1, help="runs per side, alternating (default 1)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: cuda when available")
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    if (args.seconds is not None and args.seconds <= 0) or args.repeats <= 0:
        parser.error("--seconds and --repeats must be positive")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: CUDA is not available on this machine")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    seconds = args.seconds if args.seconds is not None else float(steps("bench.vae_seconds"))
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    data = load_mnist(device=device)
    load_before = _load_average()
    runs = equal_time_comparison(seconds, args.repeats, data, device)
    reference, chapter = (name for name in SIDES)

    def mean(side: str, key: str) -> float:
        values = [r[key] for r in runs if r["side"] == side]
        return sum(values) / len(values)

    summary = {
        "date": time.strftime("%Y-%m-%d"), "device": str(device), "torch": torch.__version__,
        "threads": torch.get_num_threads(), "cpus": os.cpu_count(), "seconds": seconds, "repeats": args.repeats,
        "runs": runs,
        "elbo_difference": mean(chapter, "test_neg_elbo") - mean(reference, "test_neg_elbo"),
        "iwae_difference": mean(chapter, "test_neg_iwae100") - mean(reference, "test_neg_iwae100"),
        "cvae": cvae_judged(steps("bench.vae_cvae"), data, device),
        "load_average_before": load_before,
    }
    summary["load_average_after"] = _load_average()
    print_report(summary)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
