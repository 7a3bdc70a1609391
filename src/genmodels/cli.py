"""Command line: ``python -m genmodels train ...`` and ``python -m genmodels sample ...``.

Every mistake (a wrong name, a negative number, a missing file) ends in one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import distributed
from .budget import mode
from .checkpoints import load_checkpoint, load_state, save_checkpoint
from .data import DATASETS
from .errors import GenmodelsError
from .registry import COLOUR_DATA, IMAGE_DATA, MODELS, default_steps, load_training_data
from .runtime import get_device, seed_everything

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``genmodels train: error: ...``."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="genmodels",
        description="Train and sample the generative models of the Generative Networks course.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{train,sample}", parser_class=_Parser)

    models = "\n".join(f"  {name:<10} {spec.help}; --data {'|'.join(spec.data)}" for name, spec in MODELS.items())
    train = sub.add_parser(
        "train",
        help="train a model and save a checkpoint",
        description=f"Train MODEL on DATA and write a checkpoint. Under torchrun (torchrun --nproc_per_node=N -m "
                    f"genmodels train ...) {' and '.join(distributed.SUPPORTED)} train with DistributedDataParallel."
                    f"\n\nmodels:\n{models}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("model", metavar="MODEL", choices=sorted(MODELS), help=f"one of: {', '.join(sorted(MODELS))}")
    train.add_argument("--data", required=True, choices=DATASETS, metavar="DATA",
                       help="mnist (the 5,000 embedded digits), mnist-full (torchvision, downloads), "
                            "colour-digits (grey digit -> the digit in red or green, chapter 9), "
                            "ring8, grid25, moons, junction (agents at a junction, chapter 7)")
    losses = sorted({loss for spec in MODELS.values() for loss in spec.losses})
    train.add_argument("--loss", default=None, choices=losses, metavar="LOSS",
                       help=f"pix2pix's objective: {'|'.join(losses)} (default l1+gan, the paper's)")
    train.add_argument("--steps", type=_positive_int, default=None,
                       help="optimizer steps (default: the model's full budget; the quick one under GENMODELS_QUICK=1)")
    train.add_argument("--seed", type=_non_negative_int, default=0, help="random seed (default 0)")
    train.add_argument("--out", required=True, type=Path, metavar="CKPT", help="checkpoint file to write (.pt)")
    train.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")

    sample = sub.add_parser("sample", help="draw samples from a checkpoint into a .npy file",
                            description="Draw N samples from a trained checkpoint and save them as a NumPy array: "
                                        "(N, 2) for 2-D data, (N, 1, 28, 28) in [0, 1] for images ((N, 3, 28, 28) for "
                                        "colour-digits), (N, 20, 2) for junction "
                                        "trajectories: positions in metres, 8 observed (drawn from the data) then "
                                        "12 sampled.")
    sample.add_argument("checkpoint", type=Path, metavar="CKPT", help="a checkpoint written by `train`")
    sample.add_argument("-n", "--num-samples", type=_positive_int, required=True, metavar="N", help="how many samples")
    sample.add_argument("--label", type=_non_negative_int, default=None, metavar="K",
                        help="the class to generate (conditional models only)")
    sample.add_argument("--sampler-steps", type=_positive_int, default=None, metavar="S",
                        help="network evaluations of the sampler (diffusion only; default: the chapter's)")
    sample.add_argument("--seed", type=_non_negative_int, default=0, help="random seed (default 0)")
    sample.add_argument("--out", required=True, type=Path, metavar="FILE.npy", help="where to save the samples")
    sample.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")
    return parser


def _train(args: argparse.Namespace) -> str:
    spec = MODELS[args.model]
    if args.data not in spec.data:
        raise GenmodelsError(f"model {args.model!r} trains on --data {'|'.join(spec.data)}, not {args.data!r}")
    if args.loss is not None and args.loss not in spec.losses:
        models = [name for name, other in MODELS.items() if args.loss in other.losses]
        raise GenmodelsError(f"--loss is an option of {', '.join(models)}, not of {args.model!r}: drop --loss")
    num_steps = args.steps if args.steps is not None else default_steps(args.model, args.data)
    # Under torchrun: one process of N, DistributedDataParallel (genmodels.distributed); else one process.
    run = distributed.start(args.model, args.device) if distributed.launched_by_torchrun() else None
    device = run.device if run else get_device(args.device)
    seed_everything(args.seed)
    load = functools.partial(load_training_data, args.data, args.seed, device)
    x, y = run.load_local_main_first(load) if run else load()  # under torchrun: one download per machine
    config = spec.default_config(args.data, args.loss)
    model = spec.build(config).to(device)
    start = time.perf_counter()
    history = (run.train(args.model, model, x, y, num_steps, args.seed) if run
               else spec.train(model, args.data, x, y, num_steps))
    seconds = time.perf_counter() - start
    if run is not None and not run.is_main:
        run.finish()  # rank 0 alone writes the checkpoint and reports
        return ""
    save_checkpoint(args.out, {
        "model": args.model, "data": args.data, "config": config, "steps": num_steps, "seed": args.seed,
        "budget": mode(), "sample_shape": list(x.shape[1:]),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "history": history.state_dict(), "world_size": run.world_size if run else 1,
    })
    if run is not None:
        run.finish()
        device = f"{run.world_size} processes on {device.type}"
    if "loss" in history.values:
        how = f"{num_steps} steps, final loss {history.last('loss'):.4g}"
    elif len(history):  # several logged values (a GAN: loss_d, loss_g, ...)
        how = f"{num_steps} steps, final " + ", ".join(f"{k} {history.last(k):.4g}" for k in history.values)
    else:
        how = "closed-form fit"
    return f"trained {args.model} on {args.data} ({how}, {seconds:.1f} s on {device}) -> {args.out}"


def _sample(args: argparse.Namespace) -> str:
    if args.out.suffix != ".npy":
        raise GenmodelsError(f"--out must name a .npy file, got {str(args.out)!r}")
    record = load_checkpoint(args.checkpoint)
    name = record.get("model")
    if name not in MODELS:
        raise GenmodelsError(f"{args.checkpoint} holds model {name!r}, which this genmodels cannot sample")
    spec = MODELS[name]
    if args.label is not None:
        if record["data"] not in spec.conditional_on:
            raise GenmodelsError(f"model {name!r} trained on {record['data']!r} is not conditional: drop --label")
        num_classes = record["config"].get("num_classes", 10)
        if args.label >= num_classes:
            raise GenmodelsError(f"--label must be between 0 and {num_classes - 1}, got {args.label}")
    device = get_device(args.device)
    model = spec.build(record["config"]).to(device)
    load_state(model, record["state_dict"], source=str(args.checkpoint))
    model.eval()
    if args.sampler_steps is not None:  # chapter 12: how many network evaluations a sample takes
        if not hasattr(model, "sampler_steps"):
            raise GenmodelsError(f"model {name!r} samples in one pass: drop --sampler-steps")
        model.sampler_steps = args.sampler_steps
    rng = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        x = spec.sample(model, record["data"], args.num_samples, args.label, rng).float().cpu()
    x = x.reshape(args.num_samples, *record["sample_shape"])
    if record["data"] in IMAGE_DATA + COLOUR_DATA:
        x = x.clamp(0, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.out, x.numpy())
    return f"wrote {tuple(x.shape)} samples of {name} to {args.out}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        message = _train(args) if args.command == "train" else _sample(args)
    except (GenmodelsError, ValueError) as err:
        if distributed.reports(err):  # a bad torchrun launch: rank 0 alone says so
            print(f"genmodels {args.command}: error: {err}", file=sys.stderr)
        return 2
    if message:  # empty on ranks other than 0
        print(message)
    return 0
