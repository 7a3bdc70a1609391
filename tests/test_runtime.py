"""genmodels.runtime (device, seeding) and genmodels.budget (quick and full step counts)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from genmodels import budget
from genmodels.errors import BudgetError
from genmodels.runtime import get_device, seed_everything


# ---------------------------------------------------------------------------------------------- devices
def test_get_device_picks_an_available_device(monkeypatch):
    monkeypatch.delenv("GENMODELS_DEVICE", raising=False)
    device = get_device()
    assert isinstance(device, torch.device)
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert device.type == expected
    torch.zeros(2, device=device)  # usable


def test_get_device_cpu_on_request(monkeypatch):
    monkeypatch.delenv("GENMODELS_DEVICE", raising=False)
    assert get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("GENMODELS_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


def test_get_device_missing_cuda_is_an_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError) as info:
        get_device("cuda")
    message = str(info.value)
    assert "'cuda'" in message and "not available" in message and "'cpu'" in message


# ---------------------------------------------------------------------------------------------- seeding
def _draw() -> tuple[torch.Tensor, np.ndarray, float]:
    return torch.randn(5), np.random.rand(5), random.random()


def test_seed_everything_repeats_every_generator():
    assert seed_everything(123) == 123
    t1, n1, r1 = _draw()
    seed_everything(123)
    t2, n2, r2 = _draw()
    assert torch.equal(t1, t2) and np.array_equal(n1, n2) and r1 == r2
    seed_everything(124)
    t3, n3, r3 = _draw()
    assert not torch.equal(t1, t3) and not np.array_equal(n1, n3) and r1 != r3


def test_seed_everything_large_seed_is_accepted():
    seed_everything(2**40)  # NumPy only takes 32 bits: reduced, not rejected
    a = np.random.rand()
    seed_everything(2**40)
    assert np.random.rand() == a


@pytest.mark.parametrize("bad", [-1, 1.5, "0"])
def test_seed_everything_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        seed_everything(bad)


# ----------------------------------------------------------------------------------------------- budget
@pytest.mark.parametrize("value, quick", [("1", True), ("true", True), ("YES", True), (" on ", True),
                                          ("0", False), ("", False), ("false", False), ("off", False)])
def test_is_quick_reads_the_environment(monkeypatch, value, quick):
    monkeypatch.setenv("GENMODELS_QUICK", value)
    assert budget.is_quick() is quick
    assert budget.mode() == ("quick" if quick else "full")


def test_is_quick_unset_means_full(monkeypatch):
    monkeypatch.delenv("GENMODELS_QUICK", raising=False)
    assert budget.is_quick() is False
    assert budget.mode() == "full"


def test_is_quick_is_read_live(monkeypatch):
    monkeypatch.setenv("GENMODELS_QUICK", "1")
    assert budget.is_quick()
    monkeypatch.setenv("GENMODELS_QUICK", "0")
    assert not budget.is_quick()


def test_is_quick_rejects_unknown_values(monkeypatch):
    monkeypatch.setenv("GENMODELS_QUICK", "maybe")
    with pytest.raises(BudgetError, match="maybe"):
        budget.is_quick()
    with pytest.raises(BudgetError):
        budget.steps("ch01.classifier")


def test_steps_follow_the_mode(monkeypatch):
    entry = budget.BUDGETS["ch01.classifier"]
    assert entry.quick < entry.full  # otherwise this test could not tell the columns apart
    monkeypatch.setenv("GENMODELS_QUICK", "1")
    assert budget.steps("ch01.classifier") == entry.quick
    monkeypatch.setenv("GENMODELS_QUICK", "0")
    assert budget.steps("ch01.classifier") == entry.full


def test_every_budget_is_sane():
    assert budget.BUDGETS
    for name, entry in budget.BUDGETS.items():
        assert isinstance(entry.quick, int) and isinstance(entry.full, int), name
        assert 1 <= entry.quick <= entry.full, name


def test_unknown_budget_lists_the_known_ones():
    with pytest.raises(BudgetError) as info:
        budget.steps("ch99.nothing")
    message = str(info.value)
    assert "ch99.nothing" in message
    for name in budget.BUDGETS:
        assert name in message


def test_setup_chapter_seeds_prints_and_returns_the_device(monkeypatch, capsys):
    from genmodels.runtime import setup_chapter

    monkeypatch.setenv("GENMODELS_DEVICE", "cpu")
    threads = torch.get_num_threads()
    try:
        device = setup_chapter(seed=3)
        first = torch.rand(3)
        assert device == torch.device("cpu") and torch.get_num_threads() == 1
        setup_chapter(seed=3)
        assert torch.equal(first, torch.rand(3))
        assert capsys.readouterr().out.startswith("device: cpu, budget: ")
    finally:
        torch.set_num_threads(threads)
