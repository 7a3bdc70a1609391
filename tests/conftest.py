"""Shared set-up of the unit tests.

At import (before any test or notebook kernel starts) the quick budget is switched on and the checkpoint
cache is pointed at a fresh private folder, so nbval's kernels inherit both and never read a learner's
cache. The embedded MNIST is loaded once per session.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

os.environ.setdefault("GENMODELS_QUICK", "1")
# pytest-xdist runs two workers (pyproject addopts): one CPU thread each, for the tests and for the notebook
# kernels they start, or the two workers' thread pools fight over the cores and everything slows down.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# ... and for the same reason a chapter kernel under several workers trains its models in order, without forking
# trainers of its own (genmodels.prefetch); a single process (`-n 0`) lets it use the cores.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ.setdefault("GENMODELS_TRAIN_PROCESSES", "1")
if not os.environ.get("GENMODELS_CACHE_DIR"):
    _cache_dir = tempfile.mkdtemp(prefix="genmodels-test-cache-")
    os.environ["GENMODELS_CACHE_DIR"] = _cache_dir
    atexit.register(shutil.rmtree, _cache_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def mnist():
    """The embedded 4,500 / 500 MNIST split (read-only: tests must not modify it)."""
    from genmodels.data import load_mnist

    return load_mnist()


@pytest.fixture(scope="session", autouse=True)
def one_cpu_thread():
    """The tests' networks are tiny: one CPU thread is as fast as several, and far faster on a busy machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
