"""Checkpoints that cannot be half-written and cannot run code when loaded.

* :func:`save_checkpoint` writes to a temporary file in the same folder, flushes it to disk and renames
  it over the target: an interrupted save leaves the previous checkpoint intact.
* :func:`load_checkpoint` uses ``torch.load(..., weights_only=True)``: tensors and plain containers only.
* :func:`load_or_train` caches a trained model by name and configuration, so a chapter trains once and a
  rebuild of the book is fast. Quick and full budgets never share a cache entry.
* :func:`cached_model` is what the chapters call: seed, build, train or load, evaluation mode.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import torch

from .budget import mode
from .errors import CheckpointError
from .recipes import Recipe
from .runtime import seed_everything
from .training import History

__all__ = [
    "save_checkpoint",
    "load_checkpoint",
    "load_state",
    "default_cache_dir",
    "cache_path",
    "load_or_train",
    "cached_model",
]

FORMAT = "genmodels-checkpoint"
FORMAT_VERSION = 1


def save_checkpoint(path: str | os.PathLike, payload: Mapping[str, Any]) -> Path:
    """Atomically write ``payload`` (tensors, numbers, strings, lists, dicts) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"format": FORMAT, "format_version": FORMAT_VERSION, **payload}
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(record, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)  # atomic on POSIX and Windows
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`, with ``weights_only=True``, onto the CPU."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"no checkpoint at {path}: check the path, or train one with "
            "`python -m genmodels train MODEL --data DATA --out FILE.pt`"
        )
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, garbage bytes, pickled code ...
        reason = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"{path} is not a readable checkpoint (corrupted, truncated, or not saved by genmodels: {reason}); "
            "delete it and train again"
        ) from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a PyTorch file but not a genmodels checkpoint; train one with genmodels")
    if record.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path} was written by a newer genmodels; upgrade the package to read it")
    return record


def load_state(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "checkpoint") -> None:
    """``model.load_state_dict`` with one clear error when the checkpoint was made for another model."""
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as err:
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 else lines[0]
        raise CheckpointError(
            f"{source} does not fit {type(model).__name__} ({detail[:200]}); it was saved for another "
            "model or configuration: build the model with the checkpoint's config, or train again"
        ) from None


def default_cache_dir() -> Path:
    """``$GENMODELS_CACHE_DIR``, else ``~/.cache/genmodels/checkpoints``."""
    if os.environ.get("GENMODELS_CACHE_DIR"):
        return Path(os.environ["GENMODELS_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "genmodels" / "checkpoints"


def cache_path(name: str, config: Mapping[str, Any], cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache file of model ``name`` trained with ``config`` under the current budget."""
    key = json.dumps({"config": config, "budget": mode()}, sort_keys=True, default=str)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    return Path(cache_dir or default_cache_dir()) / f"{safe}-{mode()}-{digest}.pt"


def load_or_train(
    name: str,
    model: torch.nn.Module,
    train: Callable[[torch.nn.Module], History | None],
    *,
    config: Mapping[str, Any],
    cache_dir: str | os.PathLike | None = None,
    retrain: bool = False,
) -> History:
    """Load ``model``'s weights from the cache, or call ``train(model)`` and cache the result.

    ``config`` is everything that changes the trained weights (sizes, steps, learning rate, seed, data):
    a different config is a different cache entry. Returns the training history (stored with the
    weights). A cache entry that no longer loads is retrained over, with a warning: it is only a cache.
    Set ``retrain=True`` (or ``GENMODELS_RETRAIN=1``) to ignore the cache.
    """
    path = cache_path(name, config, cache_dir)
    retrain = retrain or os.environ.get("GENMODELS_RETRAIN", "") in {"1", "true", "yes"}
    if path.exists() and not retrain:
        try:
            record = load_checkpoint(path)
            load_state(model, record["state_dict"], source=str(path))
            print(f"{name}: loaded trained weights from the cache ({path.name})")
            return History.from_state_dict(record["history"])
        except (CheckpointError, KeyError) as err:
            warnings.warn(f"{name}: cached checkpoint unusable ({err}); training again", stacklevel=2)
    history = train(model) or History()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save_checkpoint(path, {"name": name, "config": dict(config), "state_dict": state, "history": history.state_dict()})
    return history


def cached_model(
    name: str,
    build: Callable[[], torch.nn.Module],
    train: Callable[[torch.nn.Module], History | None],
    recipe: Recipe,
    num_steps: int,
    **key: Any,
) -> tuple[torch.nn.Module, History]:
    """Seed with ``recipe.seed``, ``model = build()``, train it (``train(model)``) or load it, in eval mode.

    The cache key is the model's class and dataclass ``config``, ``recipe.as_dict()``, ``num_steps`` and
    ``key``: anything else that changes the trained weights (the data, a loss, a method). Returns
    ``(model, history)``. Every chapter that trains a network calls this, as do the digit judge and the CLI.
    """
    seed_everything(recipe.seed)
    model = build()
    config = model.config if is_dataclass(getattr(model, "config", None)) else None
    cache_key = {"model": type(model).__name__, "config": asdict(config) if config is not None else None,
                 "recipe": recipe.as_dict(), "num_steps": num_steps, **key}
    history = load_or_train(name, model, train, config=cache_key)
    return model.eval(), history
