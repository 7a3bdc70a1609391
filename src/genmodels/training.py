"""Plain training loops: the chapter writes the step, this module only repeats it.

``train_loop(step, num_steps)`` calls ``step(i)`` (which returns a dict of losses), shows a tqdm bar,
records a :class:`History`, and stops with a clear message when a loss turns NaN or explodes.
``fit`` is the one-optimizer case (classifiers, VAEs); GANs write their two-stage step in the chapter
and hand it to ``train_loop``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from .budget import is_quick
from .errors import TrainingDivergedError

__all__ = ["History", "progress_disabled", "train_loop", "fit"]

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
    """Progress bars are off under the quick budget and in CI (tqdm.notebook ignores TQDM_DISABLE)."""
    return is_quick() or os.environ.get("CI", "").lower() in {"1", "true", "yes"}


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
