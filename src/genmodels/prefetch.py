"""Train a chapter's independent models side by side, one process per CPU core, before the chapter asks for them.

Every chapter trains on one CPU thread (:func:`genmodels.setup_chapter`): the course's networks are too small
for a second thread to help. A chapter that trains several independent models one after the other therefore
leaves the other cores idle. :func:`prefetch` runs the chapter's own training calls in forked worker processes,
each on one thread; each call stores its model in the checkpoint cache
(:func:`genmodels.checkpoints.cached_model`), and when the chapter then makes the same calls, in order, they
load. Nothing changes in what is trained or how: only where and when.

It does nothing (the chapter's calls then train in order, as before) on a GPU (one process already feeds it), on
one core, where ``fork`` is not available, or when ``GENMODELS_TRAIN_PROCESSES=1``: the parallel book build and
the test run under pytest-xdist set it (their chapters already fill the cores). Under the quick budget it works
as under the full one: a fork costs milliseconds, a quick training seconds.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable

import torch

from .errors import GenmodelsError

__all__ = ["prefetch", "prefetch_processes"]

_CALLS: list[Callable[[], object]] = []   # the calls of the current prefetch, inherited by the forked workers


def prefetch_processes(num_calls: int, device: torch.device | str = "cpu") -> int:
    """How many worker processes :func:`prefetch` would start for ``num_calls`` calls (0: it would not)."""
    requested = os.environ.get("GENMODELS_TRAIN_PROCESSES")
    if requested is not None:
        try:
            cores = int(requested)
        except ValueError:
            raise GenmodelsError(f"GENMODELS_TRAIN_PROCESSES must be a positive integer, got {requested!r}") from None
        if cores < 1:
            raise GenmodelsError(f"GENMODELS_TRAIN_PROCESSES must be a positive integer, got {requested!r}")
    else:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if (torch.device(device).type != "cpu" or cores < 2 or num_calls < 2
            or "fork" not in multiprocessing.get_all_start_methods()):
        return 0
    return min(cores, num_calls)


def _run(index: int) -> None:
    torch.set_num_threads(1)
    # The kernel's output channels belong to the parent: no progress bar (in a notebook, a widget that would talk
    # to the front end over the parent's sockets), no prints.
    os.environ["GENMODELS_PROGRESS"] = "0"
    with open(os.devnull, "w") as quiet:
        sys.stdout, sys.stderr = quiet, quiet
        _CALLS[index]()


def prefetch(*calls: Callable[[], object], device: torch.device | str = "cpu") -> int:
    """Run ``calls`` (functions of no arguments that train and cache a model; lambdas are fine) in forked
    worker processes, longest first as given; returns the number of processes used (0: none, see the module).

    A call that fails raises here, with the worker's error; the cache then lacks only that model.
    """
    processes = prefetch_processes(len(calls), device)
    if processes == 0:
        return 0
    _CALLS[:] = calls
    try:
        with multiprocessing.get_context("fork").Pool(processes, maxtasksperchild=1) as pool:
            for _ in pool.imap_unordered(_run, range(len(calls))):
                pass
    finally:
        _CALLS.clear()
    return processes
