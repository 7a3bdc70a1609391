"""genmodels.prefetch: a chapter's independent trainings in forked worker processes, then loaded from the cache."""

from __future__ import annotations

import os

import pytest
import torch

from genmodels.checkpoints import cached_model
from genmodels.errors import GenmodelsError
from genmodels.prefetch import prefetch, prefetch_processes
from genmodels.recipes import Recipe


@pytest.fixture
def full_budget(monkeypatch):
    monkeypatch.delenv("GENMODELS_QUICK", raising=False)
    monkeypatch.setenv("GENMODELS_TRAIN_PROCESSES", "2")


def _write_pid(path):
    return lambda: path.write_text(str(os.getpid()))


def test_calls_run_in_other_processes(full_budget, tmp_path):
    files = [tmp_path / f"{k}.txt" for k in range(3)]
    assert prefetch(*map(_write_pid, files)) == 2
    pids = {int(f.read_text()) for f in files}
    assert os.getpid() not in pids and len(pids) == 3   # a fresh worker for every call


def test_nothing_runs_with_one_process(full_budget, monkeypatch, tmp_path):
    monkeypatch.setenv("GENMODELS_TRAIN_PROCESSES", "1")
    files = [tmp_path / "a.txt", tmp_path / "b.txt"]
    assert prefetch(*map(_write_pid, files)) == 0 and not any(f.exists() for f in files)


def test_the_quick_budget_prefetches_too(full_budget, monkeypatch, tmp_path):
    monkeypatch.setenv("GENMODELS_QUICK", "1")
    files = [tmp_path / "a.txt", tmp_path / "b.txt"]
    assert prefetch(*map(_write_pid, files)) == 2 and all(f.exists() for f in files)


def test_several_test_workers_turn_it_off():
    # tests/conftest.py: under pytest-xdist with two workers the chapter kernels must not fork trainers of their own
    if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
        assert os.environ.get("GENMODELS_TRAIN_PROCESSES") == "1"


def test_nothing_runs_on_a_gpu_or_for_one_call(full_budget):
    assert prefetch_processes(3, "cuda") == 0 and prefetch_processes(1) == 0 and prefetch_processes(5) == 2


def test_a_bad_process_count_is_one_clear_error(full_budget, monkeypatch):
    monkeypatch.setenv("GENMODELS_TRAIN_PROCESSES", "two")
    with pytest.raises(GenmodelsError, match="GENMODELS_TRAIN_PROCESSES must be a positive integer"):
        prefetch(lambda: None, lambda: None)


def test_a_failing_call_raises_its_error_here(full_budget):
    def fail():
        raise ValueError("the worker's own message")

    with pytest.raises(ValueError, match="the worker's own message"):
        prefetch(lambda: None, fail)


def test_the_chapter_then_loads_what_the_workers_trained(full_budget, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("GENMODELS_CACHE_DIR", str(tmp_path))
    trained_here = []

    def fit_line(name, seed):
        def train(model):
            trained_here.append((name, os.getpid()))
            x = torch.randn(64, 1, generator=torch.Generator().manual_seed(seed))
            optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
            for _ in range(50):
                loss = (model(x) - 3 * x).pow(2).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return cached_model(name, lambda: torch.nn.Linear(1, 1), train, Recipe(batch_size=64, seed=seed), 50)

    assert prefetch(lambda: fit_line("a", 0), lambda: fit_line("b", 1)) == 2
    assert trained_here == []                          # not in this process
    (a, _), (b, _) = fit_line("a", 0), fit_line("b", 1)
    assert trained_here == []                          # loaded from the cache
    assert abs(a.weight.item() - 3) < 0.05 and abs(b.weight.item() - 3) < 0.05
    assert capsys.readouterr().out.count("loaded trained weights from the cache") == 2
