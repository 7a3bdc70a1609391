"""Mode collapse on the ring-8 and grid-25 benchmarks: our GANs beside the published tables (chapter 5).

The protocol of VEEGAN (Srivastava et al., 2017, Table 1) and PacGAN (Lin et al., 2018, Table 1): train on a
mixture of Gaussians with known modes, draw 2,500 samples, call a sample **high quality** when it lies within
3 standard deviations of its nearest mode, and count a mode as **captured** when at least one high-quality
sample lands on it. Report the number of modes captured and the percentage of high-quality samples, averaged
over runs. Our toys (``genmodels.data.TOYS``): ring-8, 8 modes on the unit circle with std 0.01; grid-25,
25 modes on {-4, -2, 0, 2, 4}^2 with std 0.05.

Every method of chapter 5 (``genmodels.recipes.TOY_METHODS``) is trained from scratch for each seed: the
same MLPs (3 hidden layers of 128 units, 2-D latent), batches of 256 fresh samples, each method at its paper's
recipe (WGAN-GP: lambda 10, 5 critic steps, Adam 1e-4 with betas (0, 0.9); PacGAN: packs of 4). Every run gets
an equal CPU budget, the CPU time of ``--steps`` plain-GAN steps: ``recipes.toy_steps`` divides it by the
method's cost per generator step, as in chapter 5. Training time is measured as CPU time of this process
(``time.process_time``) with PyTorch on one thread, so it does not depend on what else the machine runs
(wall-clock time does); the issue's limit is 60 CPU-seconds per run. The target: the chapter's best method captures
8/8 and 25/25 modes with at least 95% high-quality samples on every seed.

The published rows are copied from the papers' tables (their architectures, budgets and sample sizes differ
from ours: the comparison is of the measure, not of equal compute).

    python benchmarks/bench_mode_collapse.py [--seeds 5] [--steps N] [--methods "GAN" "R1 + lr decay"] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch

from genmodels import seed_everything, steps
from genmodels.data import toy_distribution
from genmodels.gan_training import train_gan
from genmodels.metrics import mode_coverage
from genmodels.models import GAN, MLPGANConfig
from genmodels.recipes import BEST_TOY_METHOD, TOY_METHODS, toy_recipe, toy_steps

NUM_SAMPLES = 2500
CPU_LIMIT_S = 60.0
TOYS = ("ring8", "grid25")

# (source, method): (ring modes, ring % high quality, grid modes, grid % high quality)
PUBLISHED = {
    ("VEEGAN Table 1", "GAN"): (1.0, 99.3, 3.3, 0.5),
    ("VEEGAN Table 1", "Unrolled GAN"): (7.6, 35.6, 23.6, 16.0),
    ("VEEGAN Table 1", "VEEGAN"): (8.0, 52.9, 24.6, 40.0),
    ("PacGAN Table 1", "GAN"): (6.3, 98.2, 17.3, 94.8),
    ("PacGAN Table 1", "PacGAN4"): (7.8, 95.9, 24.8, 93.6),
}


def run(toy_name: str, method: str, seed: int, budget: int) -> dict:
    """Train one GAN of ``method`` on ``toy_name`` from ``seed`` for the CPU time of ``budget`` plain-GAN steps;
    its mode coverage and CPU seconds."""
    toy = toy_distribution(toy_name)
    num_steps = toy_steps(method, budget)
    model_options, recipe = toy_recipe(method, toy.modes)
    seed_everything(seed)
    gan = GAN(MLPGANConfig(**model_options))
    noise = torch.Generator().manual_seed(seed)
    batches = iter(lambda: (toy.sample(recipe.batch_size, noise)[0],), None)
    start = time.process_time()
    train_gan(gan.generator, gan.discriminator, batches, num_steps, latent_dim=gan.config.latent_dim,
              seed=seed, progress=False, log_every=100, **recipe.train_args)
    cpu_seconds = time.process_time() - start
    samples = gan.sample(NUM_SAMPLES, rng=torch.Generator().manual_seed(10_000 + seed))
    result = mode_coverage(samples, toy.modes, toy.std)
    return {"toy": toy_name, "method": method, "seed": seed, "steps": num_steps, "cpu_seconds": cpu_seconds,
            "modes": result.num_captured, "high_quality": result.high_quality}


def summarize(runs: list[dict], method: str, toy: str) -> dict:
    mine = [r for r in runs if r["method"] == method and r["toy"] == toy]
    if not mine:
        nan = float("nan")
        return {"modes": nan, "hq": nan, "min_modes": nan, "min_hq": nan, "cpu": nan}
    return {
        "modes": statistics.mean(r["modes"] for r in mine),
        "hq": 100 * statistics.mean(r["high_quality"] for r in mine),
        "min_modes": min(r["modes"] for r in mine),
        "min_hq": 100 * min(r["high_quality"] for r in mine),
        "cpu": max(r["cpu_seconds"] for r in mine),
    }


def print_table(runs: list[dict], methods: list[str], num_seeds: int) -> None:
    header = f"{'source':<22}{'method':<16}{'ring: modes':>12}{'% HQ':>8}{'grid: modes':>13}{'% HQ':>8}"
    print(header)
    print("-" * len(header))
    for (source, method), (rm, rq, gm, gq) in PUBLISHED.items():
        print(f"{source:<22}{method:<16}{rm:>12.1f}{rq:>8.1f}{gm:>13.1f}{gq:>8.1f}")
    print("-" * len(header))
    for method in methods:
        ring, grid = summarize(runs, method, "ring8"), summarize(runs, method, "grid25")
        print(f"{f'ours, {num_seeds} seed' + ('s' if num_seeds > 1 else ''):<22}{method:<16}{ring['modes']:>12.1f}{ring['hq']:>8.1f}"
              f"{grid['modes']:>13.1f}{grid['hq']:>8.1f}")
    print("\nworst seed and slowest run of each method (CPU seconds of training, one thread):")
    for method in methods:
        ring, grid = summarize(runs, method, "ring8"), summarize(runs, method, "grid25")
        print(f"  {method:<16} ring {ring['min_modes']}/8 modes, {ring['min_hq']:.1f}% HQ, {ring['cpu']:.0f} s;"
              f"  grid {grid['min_modes']}/25 modes, {grid['min_hq']:.1f}% HQ, {grid['cpu']:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=steps("bench.gan_seeds"))
    parser.add_argument("--steps", type=int, default=steps("bench.gan_toy"),
                        help="CPU budget per run, in plain-GAN steps")
    parser.add_argument("--methods", nargs="+", default=list(TOY_METHODS), choices=list(TOY_METHODS))
    parser.add_argument("--toys", nargs="+", default=list(TOYS), choices=list(TOYS))
    parser.add_argument("--threads", type=int, default=1, help="PyTorch CPU threads (CPU time counts all of them)")
    parser.add_argument("--out", default=None, help="write every run as JSON here")
    parser.add_argument("--tables", nargs="+", default=None, metavar="FILE.json",
                        help="print the table of runs saved with --out (e.g. one file per toy) and train nothing")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if args.tables:
        saved = [json.load(open(name)) for name in args.tables]
        runs = [r for record in saved for r in record["runs"]]
        args.steps, args.seeds = saved[0]["steps"], saved[0]["seeds"]
        args.methods = [m for m in TOY_METHODS if any(r["method"] == m for r in runs)]
    else:
        runs = []
    for method in [] if args.tables else args.methods:
        for toy in args.toys:
            for seed in range(args.seeds):
                runs.append(run(toy, method, seed, args.steps))
                r = runs[-1]
                print(f"{method:<16} {toy:<7} seed {seed}: {r['modes']:>2} modes, {100 * r['high_quality']:5.1f}% HQ, "
                      f"{r['cpu_seconds']:.0f} CPU-s", file=sys.stderr, flush=True)
    print(f"\nMode collapse benchmark: {NUM_SAMPLES} samples, high quality = within 3 std of a mode; "
          f"an equal CPU budget of {args.steps} plain-GAN steps per run\n")
    print_table(runs, args.methods, args.seeds)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"steps": args.steps, "seeds": args.seeds, "runs": runs}, f, indent=1)

    if BEST_TOY_METHOD in args.methods:
        best = [r for r in runs if r["method"] == BEST_TOY_METHOD]
        met = all(r["modes"] == toy_distribution(r["toy"]).num_modes and r["high_quality"] >= 0.95 for r in best)
        fast = all(r["cpu_seconds"] <= CPU_LIMIT_S for r in best)
        print(f"\ntarget ({BEST_TOY_METHOD}: all modes and >= 95% HQ on every seed): {'met' if met else 'NOT met'}; "
              f"every run within {CPU_LIMIT_S:.0f} CPU-s: {'yes' if fast else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
