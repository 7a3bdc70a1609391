r"""Training across processes and GPUs: ``torchrun --nproc_per_node=N -m genmodels train MODEL ...``.

torchrun starts N copies of the command line, one *rank* each (one per GPU, or N CPU processes), and sets
``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``; the command line sees them and
trains with :class:`torch.nn.parallel.DistributedDataParallel` (DDP) instead of in one process.

Data parallelism, as done here:

* **One model, N copies.** Every rank builds it from the same seed; DDP copies rank 0's weights to all.
* **The global batch is the single-process batch** ``B``, so the learning rate is unchanged. Every rank
  draws the same order of the data (a generator seeded with ``--seed``), cut into global batches of ``B``
  exactly as one process cuts it; rank ``r`` takes rows ``r B/N .. (r+1) B/N`` of each. Within an epoch the
  ranks' rows are disjoint: each process its own shard. ``B`` must divide by ``N``.
* **Gradients.** DDP averages them over the ranks during ``backward``: for a loss that is a mean over the
  batch, that is the gradient of the global batch, the one a single process computes.
* **Noise** inside a step (the VAE's eps, the GAN's z) comes from each rank's own seed, ``seed + 1000 rank``.
* **Rank 0 alone** shows progress and writes the checkpoint (atomically). The logged losses are averaged
  over the ranks at the end, so the checkpoint's history is that of the global batch.

A GAN (the conditional GAN, chapter 4) needs more than one wrapper:

* G and D are wrapped separately, each with its own Adam. **Update D**: G runs forward without a graph, so
  only D's gradients exist and are averaged. **Update G**: D is frozen and runs inside ``D.no_sync()``, so
  DDP expects no gradient of D; G's gradients, which flow through D, are averaged.
* Each rank generates its fakes from its own z and the labels of its own shard: the N fake halves make one
  global fake batch of ``B``, as in one process.
* Batch norm (G has it, D has none) normalizes over the **global** batch: ``torch.nn.SyncBatchNorm`` on
  CUDA, :class:`GlobalBatchNorm` (the same computation, one all-reduce of the sums) on the CPU, where
  SyncBatchNorm does not run. So G sees the statistics of ``B`` images, as in one process, and every rank
  holds the same running statistics, so DDP need not copy rank 0's buffers at every forward
  (``forward_sync_buffers=False``); the final check compares the ranks' weights *and* buffers.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .errors import GenmodelsError
from .gan_training import discriminator_step, generator_step
from .losses import vae_loss
from .recipes import IMAGE_RECIPE, VAE_RECIPE
from .distributed_batch import GlobalBatchNorm, global_batch_norm, shard_minibatches
from .training import History, fit, train_players

__all__ = [
    "LaunchError",
    "DistributedRun",
    "GlobalBatchNorm",
    "launched_by_torchrun",
    "shard_minibatches",
    "start",
    "reports",
    "SUPPORTED",
]

RENDEZVOUS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")  # what torchrun sets
NOISE_SEED_STRIDE = 1000  # rank r draws its noise from seed + 1000 r
T = TypeVar("T")


class LaunchError(GenmodelsError):
    """A bad torchrun launch that every rank detects alike: rank 0 alone reports it."""


def launched_by_torchrun(env: Mapping[str, str] | None = None) -> bool:
    """True when the process was started for distributed training (torchrun sets WORLD_SIZE and RANK)."""
    env = os.environ if env is None else env
    return any(name in env for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"))


def reports(err: BaseException, env: Mapping[str, str] | None = None) -> bool:
    """Whether this process prints ``err``: a :class:`LaunchError` only on rank 0, so it reads as one line."""
    env = os.environ if env is None else env
    return not isinstance(err, LaunchError) or env.get("RANK", "0") == "0"


@dataclass(frozen=True)
class DistributedRun:
    """This process's place in a torchrun launch, after the process group is up."""

    rank: int
    local_rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def progress(self) -> bool | None:
        """``train_loop``'s ``progress``: the default on rank 0 (off under the quick budget), off elsewhere."""
        return None if self.is_main else False

    def wrap(self, module: nn.Module) -> DistributedDataParallel:
        """DDP around ``module`` (already on this rank's device); buffers are kept equal by GlobalBatchNorm."""
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids, **_no_forward_buffer_sync())

    def shard(self, *tensors: torch.Tensor, batch_size: int, seed: int) -> Iterator[tuple[torch.Tensor, ...]]:
        """This rank's part of the global batches; the order is the same on every rank (seeded with ``seed``)."""
        rng = torch.Generator().manual_seed(seed)
        return shard_minibatches(*tensors, batch_size=batch_size, rank=self.rank, world_size=self.world_size,
                                 rng=rng)

    def load_local_main_first(self, load: Callable[[], T]) -> T:
        """``load()`` on local rank 0 first (one download per machine), then on the others, from its files.

        If it fails there (e.g. the full MNIST offline), that rank raises its error and the others stop quietly,
        instead of waiting for it.
        """
        error, result = None, None
        if self.local_rank == 0:
            try:
                result = load()
            except (GenmodelsError, ValueError) as err:
                error = err
        failed = torch.tensor([float(error is not None)], device=self.device)
        dist.all_reduce(failed)  # also the barrier: the others wait here for the files
        if error is not None:
            raise error
        if failed.item():
            raise LaunchError("the first process of a machine could not load the data; its error says why")
        return load() if self.local_rank != 0 else result

    def train(self, name: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor, num_steps: int,
              seed: int) -> History:
        """Train ``model`` (the same initial weights on every rank) with DDP; the history averaged over ranks."""
        noise_seed = seed + NOISE_SEED_STRIDE * self.rank
        torch.manual_seed(noise_seed)  # this rank's noise (the VAE's eps); the data order uses `seed`
        history = SUPPORTED[name](self, model, x, y, num_steps, seed)
        self._check_in_sync(model)
        return self._mean_over_ranks(history)

    def finish(self) -> None:
        dist.barrier()  # rank 0 has written the checkpoint
        dist.destroy_process_group()

    def _check_in_sync(self, model: nn.Module) -> None:
        """Every rank must end with rank 0's weights and buffers, or the averaging went wrong."""
        state = [t.detach().float().reshape(-1) for t in model.state_dict().values() if t.is_floating_point()]
        flat = torch.cat(state).to(self.device)
        reference = flat.clone()
        dist.broadcast(reference, src=0)
        gap = (flat - reference).abs().max()
        dist.all_reduce(gap, op=dist.ReduceOp.MAX)
        if gap.item() > 1e-6:
            raise GenmodelsError(f"the ranks' weights differ by up to {gap.item():.3g} after training: "
                                 "the gradient averaging is broken; please report it")

    def _mean_over_ranks(self, history: History) -> History:
        if not history.values:
            return history
        keys = list(history.values)
        table = torch.tensor([history.values[k] for k in keys], dtype=torch.float64, device=self.device)
        dist.all_reduce(table)  # (keys, logged steps), summed over ranks
        table = (table / self.world_size).cpu()
        return History(list(history.steps), {k: table[j].tolist() for j, k in enumerate(keys)})


def _train_vae(run: DistributedRun, model: nn.Module, x: torch.Tensor, y: torch.Tensor, num_steps: int,
               seed: int) -> History:
    """The VAE: one DDP wrapper, one Adam, ``vae_loss`` (a mean over the batch) on this rank's rows."""
    batches = run.shard(x, batch_size=VAE_RECIPE.batch_size, seed=seed)
    return fit(run.wrap(model), vae_loss, batches, num_steps, lr=VAE_RECIPE.train_args["lr"], desc="vae",
               progress=run.progress)


def _train_cgan(run: DistributedRun, model: nn.Module, x: torch.Tensor, y: torch.Tensor, num_steps: int,
                seed: int) -> History:
    """The conditional GAN with chapter 4's recipe: two DDP wrappers, two Adams, global batch norm in G."""
    recipe = dict(IMAGE_RECIPE.train_args)
    batch_size, kind = IMAGE_RECIPE.batch_size, recipe.pop("kind")
    batches = run.shard(x, y, batch_size=batch_size, seed=seed)
    model.generator = global_batch_norm(model.generator, run.device)  # same parameters, global statistics
    generator, discriminator = run.wrap(model.generator), run.wrap(model.discriminator)
    noise = torch.Generator().manual_seed(seed + NOISE_SEED_STRIDE * run.rank)
    latent_dim = model.config.latent_dim

    def draw_z(n: int) -> torch.Tensor:
        return torch.randn(n, latent_dim, generator=noise).to(run.device)

    def make_step(optimizer_g: torch.optim.Optimizer, optimizer_d: torch.optim.Optimizer) -> Callable:
        def step(i: int) -> dict[str, torch.Tensor]:
            x_real, labels = next(batches)  # this rank's B/N real digits and their labels
            # Update D: maximize log D(x, y) + log(1 - D(G(z, y), y)); G runs without a graph, D's gradients
            # are averaged over the ranks
            logged = discriminator_step(generator, discriminator, optimizer_d, x_real, draw_z(len(x_real)), labels,
                                        kind=kind)
            # Update G: maximize log D(G(z, y), y) through a frozen D; no_sync: D has no gradient to average
            with discriminator.no_sync():
                logged |= generator_step(generator, discriminator, optimizer_g, draw_z(len(x_real)), labels,
                                         kind=kind)
            return logged

        return step

    history = train_players(generator, discriminator, make_step, num_steps, betas=(0.5, 0.999), desc="cgan",
                            progress=run.progress, **recipe)
    model.eval()
    return history


SUPPORTED: dict[str, Callable[..., History]] = {"vae": _train_vae, "cgan": _train_cgan}
GLOBAL_BATCH = {"vae": VAE_RECIPE.batch_size, "cgan": IMAGE_RECIPE.batch_size}


def _no_forward_buffer_sync() -> dict[str, bool]:
    """DDP's switch off for the buffer sync at every forward: ``forward_sync_buffers`` since PyTorch 2.13, which
    deprecates ``broadcast_buffers``; the package supports torch >= 2.4 (a GPU image with 2.11 lacked the new one)."""
    new = "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
    return {"forward_sync_buffers" if new else "broadcast_buffers": False}


def _pick_device(prefer: str | None, local_rank: int) -> torch.device:
    prefer = prefer or os.environ.get("GENMODELS_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(prefer)
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise LaunchError(f"training across processes runs on CUDA (nccl) or the CPU (gloo), not {prefer!r}")
    if device.index is not None:
        raise LaunchError("under torchrun each process takes the GPU of its LOCAL_RANK: pass --device cuda, "
                          f"not {prefer!r}")
    if not torch.cuda.is_available():
        raise LaunchError("--device cuda, but this machine has no usable GPU; use --device cpu")
    count = torch.cuda.device_count()
    if local_rank >= count:  # only the ranks without a GPU fail, so it is not a LaunchError
        raise GenmodelsError(f"rank with LOCAL_RANK={local_rank} has no GPU: this machine has {count}; "
                             f"use --nproc_per_node={count} or fewer")
    return torch.device("cuda", local_rank)


def start(model: str, prefer_device: str | None = None, env: Mapping[str, str] | None = None) -> DistributedRun:
    """Check the launch (before any rank waits for another), then join the process group.

    gloo on the CPU, nccl on CUDA (one GPU per process, the one of LOCAL_RANK).
    """
    env = os.environ if env is None else env
    missing = [name for name in RENDEZVOUS if not env.get(name)]
    if missing:
        raise LaunchError(f"started for distributed training but {', '.join(missing)} "
                          f"{'is' if len(missing) == 1 else 'are'} not set: launch with "
                          "`torchrun --nproc_per_node=N -m genmodels train ...`, which sets all of "
                          f"{', '.join(RENDEZVOUS)}")
    try:
        rank, local_rank, world_size = (int(env[name]) for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"))
    except ValueError:
        raise LaunchError("RANK, LOCAL_RANK and WORLD_SIZE must be whole numbers; let torchrun set them") from None
    if model not in SUPPORTED:
        raise LaunchError(f"model {model!r} does not support training across processes; models that do: "
                          f"{', '.join(SUPPORTED)}. Train {model} in one process: python -m genmodels train {model} ...")
    batch = GLOBAL_BATCH[model]
    if batch % world_size:
        fits = ", ".join(str(k) for k in range(1, batch + 1) if batch % k == 0)
        raise LaunchError(f"{model}'s global batch of {batch} cannot be split evenly over {world_size} processes: "
                          f"launch a number of processes (nodes x --nproc_per_node) among {fits}")
    device = _pick_device(prefer_device, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    try:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=world_size)
    except Exception as err:  # port taken, address unreachable, rendezvous timed out ...
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise GenmodelsError(f"rank {rank} could not join the process group at {env['MASTER_ADDR']}:"
                             f"{env['MASTER_PORT']} ({reason})") from None
    return DistributedRun(rank, local_rank, world_size, device)
