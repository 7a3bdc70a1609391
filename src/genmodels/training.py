"""Plain training loops: the chapter writes the step, this module only repeats it.

``train_loop(step, num_steps)`` calls ``step(i)`` (which returns a dict of losses), shows a tqdm bar,
records a :class:`History`, and stops with a clear message when a loss turns NaN or explodes.
``fit`` is the one-optimizer case (classifiers, VAEs); ``train_players`` the two-player case (one Adam per
network, an optional learning-rate decay) around a step written elsewhere: the GAN steps of
:mod:`genmodels.gan_training`, the paired image-to-image step of :mod:`genmodels.paired_training`.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from .budget import is_quick
from .errors import TrainingDivergedError

__all__ = ["History", "progress_disabled", "train_loop", "fit", "fit_early_stopped", "train_players"]

StepResult = Mapping[str, "torch.Tensor | float"]


@dataclass
class History:
    """Logged values: ``steps[j]`` is the step at which ``values[key][j]`` was recorded."""

    steps: list[int] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)

    def append(self, step: int, logged: Mapping[str, float]) -> None:
        self.steps.append(step)
        for key, value in logged.items():
            self.values.setdefault(key, []).append(value)

    def __getitem__(self, key: str) -> list[float]:
        if key not in self.values:
            raise KeyError(f"no value {key!r} was logged; logged: {', '.join(self.values) or 'nothing'}")
        return self.values[key]

    def __len__(self) -> int:
        return len(self.steps)

    def last(self, key: str, n: int = 1) -> float:
        """Mean of the last ``n`` logged values of ``key``."""
        tail = self[key][-n:]
        return sum(tail) / len(tail)

    def state_dict(self) -> dict:
        """Plain lists and floats: safe inside a ``weights_only`` checkpoint."""
        return {"steps": list(self.steps), "values": {k: list(v) for k, v in self.values.items()}}

    @classmethod
    def from_state_dict(cls, state: Mapping) -> History:
        return cls(list(state["steps"]), {k: list(v) for k, v in state["values"].items()})


def progress_disabled() -> bool:
    """Progress bars are off under the quick budget, in CI and with ``GENMODELS_PROGRESS=0`` (tqdm.notebook
    ignores TQDM_DISABLE)."""
    return (is_quick() or os.environ.get("CI", "").lower() in {"1", "true", "yes"}
            or os.environ.get("GENMODELS_PROGRESS") == "0")


def _check_finite(step: int, logged: Mapping[str, float], max_abs_loss: float, history: History) -> None:
    for key, value in logged.items():
        if math.isfinite(value) and abs(value) <= max_abs_loss:
            continue
        before = f"; last logged value {history.last(key):.4g}" if key in history.values else ""
        what = f"is {value}" if not math.isfinite(value) else f"= {value:.3g} exceeds max_abs_loss={max_abs_loss:g}"
        raise TrainingDivergedError(
            f"training stopped at step {step}: {key!r} {what}{before}. "
            "Lower the learning rate, check that inputs are scaled (images in [0, 1]), or clip gradients."
        )


def train_loop(
    step: Callable[[int], StepResult],
    num_steps: int,
    *,
    desc: str = "training",
    log_every: int = 10,
    max_abs_loss: float = 1e6,
    progress: bool | None = None,
    callback: Callable[[int, Mapping[str, float]], None] | None = None,
) -> History:
    """Run ``step(i)`` for ``i`` in ``range(num_steps)`` and return the logged history.

    Every ``log_every`` steps (and at the last) the returned losses are read as floats (one device sync),
    checked (NaN, inf or ``|loss| > max_abs_loss`` raise :class:`TrainingDivergedError`), recorded and
    passed to ``callback(i, logged)``. ``progress`` forces the bar on or off; by default it is off under
    the quick budget and in CI.
    """
    if not isinstance(num_steps, int) or num_steps < 0:
        raise ValueError(f"num_steps must be a non-negative integer, got {num_steps!r}")
    if not isinstance(log_every, int) or log_every <= 0:
        raise ValueError(f"log_every must be a positive integer, got {log_every!r}")
    disable = progress_disabled() if progress is None else not progress
    history = History()
    with tqdm(total=num_steps, desc=desc, disable=disable, leave=True) as bar:
        for i in range(num_steps):
            result = step(i)
            if i % log_every == 0 or i == num_steps - 1:
                logged = {k: float(v) for k, v in result.items()}
                _check_finite(i, logged, max_abs_loss, history)
                history.append(i, logged)
                bar.set_postfix({k: f"{v:.4g}" for k, v in logged.items()}, refresh=False)
                if callback is not None:
                    callback(i, logged)
            bar.update(1)
    return history


def fit(
    model: torch.nn.Module,
    loss_fn: Callable[..., "torch.Tensor | Mapping[str, torch.Tensor]"],
    batches: Iterator[tuple[torch.Tensor, ...]],
    num_steps: int,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    **loop_kwargs,
) -> History:
    """Minimize ``loss_fn(model, *batch)`` with one optimizer (Adam at ``lr`` unless one is given).

    ``loss_fn`` returns a scalar tensor, or a dict whose ``"loss"`` entry is minimized and whose other
    entries are logged too. ``batches`` is any iterator of tensor tuples, e.g.
    :func:`genmodels.data.infinite_minibatches`.
    """
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=lr)
    model.train()

    def step(i: int) -> dict[str, torch.Tensor]:
        out = loss_fn(model, *next(batches))
        losses = dict(out) if isinstance(out, Mapping) else {"loss": out}
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        optimizer.step()
        return {k: v.detach().clone() for k, v in losses.items()}  # clone: a logged view must not change later

    history = train_loop(step, num_steps, **loop_kwargs)
    model.eval()
    return history


def fit_early_stopped(
    model: torch.nn.Module,
    loss_fn: Callable[..., "torch.Tensor | Mapping[str, torch.Tensor]"],
    batches: Iterator[tuple[torch.Tensor, ...]],
    max_steps: int,
    held_out_loss: Callable[[torch.nn.Module], float],
    *,
    check_every: int = 50,
    patience: int = 4,
    lr: float = 1e-3,
    progress: bool | None = None,
) -> History:
    """:func:`fit` in rounds of ``check_every`` steps, stopped early on held-out data (chapter 6).

    After each round ``held_out_loss(model)`` (the model in evaluation mode) is logged as ``"held_out"``;
    training stops after ``patience`` rounds without a new best, or at ``max_steps``, and the model keeps
    the weights of its best round. The history's last ``"best_step"`` says which step that was.
    """
    if check_every < 1 or patience < 1:
        raise ValueError(f"check_every and patience must be positive, got {check_every} and {patience}")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history, best, best_step, best_state, rounds_since_best = History(), math.inf, 0, None, 0
    for start in range(0, max_steps, check_every):
        num_steps = min(check_every, max_steps - start)
        trained = fit(model, loss_fn, batches, num_steps, optimizer=optimizer, log_every=num_steps, progress=progress)
        with torch.no_grad():
            held_out = float(held_out_loss(model))
        if held_out < best:
            best, best_step, best_state, rounds_since_best = held_out, start + num_steps, copy.deepcopy(model.state_dict()), 0
        else:
            rounds_since_best += 1
        history.append(start + num_steps, {"loss": trained.last("loss"), "held_out": held_out, "best_step": best_step})
        if rounds_since_best >= patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history


# ------------------------------------------------- two players (GAN, AC-GAN, pix2pix, SRGAN; chapters 4-10)
def _with_lr_decay(step: Callable, optimizers: tuple, num_steps: int, start: int) -> Callable:
    """``step`` followed by a linear learning-rate decay to 0 between step ``start`` and the last (chapter 5)."""

    def factor(i: int) -> float:
        return 1.0 if i < start else 1 - (i - start) / (num_steps - start)

    schedules = [torch.optim.lr_scheduler.LambdaLR(o, factor) for o in optimizers]

    def decayed_step(i: int) -> dict[str, torch.Tensor]:
        logged = step(i)
        for schedule in schedules:
            schedule.step()
        return logged

    return decayed_step


def _with_monitor(step: Callable, monitor: Callable[[], dict[str, float]], log_every: int, num_steps: int) -> Callable:
    """``step`` whose logged values also hold ``monitor()``'s sample-quality numbers (chapter 5)."""

    def monitored_step(i: int) -> dict[str, torch.Tensor]:
        logged = step(i)
        if i % log_every == 0 or i == num_steps - 1:  # exactly the steps train_loop records
            logged = {**logged, **monitor()}
        return logged

    return monitored_step


def train_players(
    generator: nn.Module,
    discriminator: nn.Module | None,
    make_step: Callable[[torch.optim.Optimizer, torch.optim.Optimizer | None], Callable[[int], dict]],
    num_steps: int,
    *,
    lr_g: float,
    lr_d: float,
    betas: tuple[float, float],
    decay_lr: bool = False,
    decay_start: float = 0.0,
    monitor: Callable[[], dict[str, float]] | None = None,
    **loop_kwargs,
) -> History:
    """The loop around every two-player step of the course (GAN, AC-GAN, pix2pix, SRGAN); returns the history.

    One Adam per player (``discriminator=None``: G alone, plain regression), both networks in training mode,
    ``step = make_step(optimizer_g, optimizer_d)``, the optional linear learning-rate decay and monitor of
    :func:`genmodels.gan_training.train_gan`, :func:`train_loop`, and both networks back in evaluation mode.
    """
    optimizer_g = torch.optim.Adam(generator.parameters(), lr=lr_g, betas=betas)
    optimizer_d = None if discriminator is None else torch.optim.Adam(discriminator.parameters(), lr=lr_d, betas=betas)
    players = [m for m in (generator, discriminator) if m is not None]
    for player in players:
        player.train()
    step = make_step(optimizer_g, optimizer_d)
    if decay_lr:
        optimizers = tuple(o for o in (optimizer_g, optimizer_d) if o is not None)
        step = _with_lr_decay(step, optimizers, num_steps, int(decay_start * num_steps))
    if monitor is not None:
        step = _with_monitor(step, monitor, loop_kwargs.get("log_every", 10), num_steps)
    history = train_loop(step, num_steps, **loop_kwargs)
    for player in players:
        player.eval()
    return history
