"""genmodels.data: the embedded MNIST split, the torchvision path, the toy densities and the batching."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch

from genmodels import data as gd
from genmodels.data import (
    DigitData,
    infinite_minibatches,
    iterate_minibatches,
    load_mnist,
    sample_toy,
    toy_distribution,
    write_mnist_idx,
)
from genmodels.errors import DataUnavailableError


def _row_hashes(x: torch.Tensor) -> set[str]:
    flat = x.reshape(len(x), -1).contiguous().numpy()
    return {hashlib.sha1(row.tobytes()).hexdigest() for row in flat}


# ---------------------------------------------------------------------------------------- embedded MNIST
def test_embedded_mnist_shapes_and_dtypes(mnist):
    assert mnist.source == "embedded"
    assert mnist.x_train.shape == (4500, 1, 28, 28)
    assert mnist.x_test.shape == (500, 1, 28, 28)
    assert mnist.y_train.shape == (4500,)
    assert mnist.y_test.shape == (500,)
    assert mnist.x_train.dtype == mnist.x_test.dtype == torch.float32
    assert mnist.y_train.dtype == mnist.y_test.dtype == torch.int64


def test_embedded_mnist_values(mnist):
    for x in (mnist.x_train, mnist.x_test):
        assert x.min().item() == 0.0
        assert x.max().item() == 1.0
        # grey levels are k / 255: scaling back gives whole numbers
        scaled = x * 255
        assert torch.allclose(scaled, scaled.round(), atol=1e-3)
        # digits are mostly background: a sane fraction of ink
        assert 0.05 < (x > 0.5).float().mean().item() < 0.3
    for y in (mnist.y_train, mnist.y_test):
        assert y.min().item() == 0 and y.max().item() == 9
        assert torch.bincount(y, minlength=10).min().item() > 0  # all ten classes present
    whole = torch.bincount(torch.cat([mnist.y_train, mnist.y_test]), minlength=10)
    assert whole.tolist() == [500] * 10  # balanced in the whole set, as documented


def test_embedded_split_is_fixed_and_reproducible(mnist):
    again = load_mnist()
    for name in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(mnist, name), getattr(again, name)), name
    # and it is the documented split: a permutation seeded with SPLIT_SEED, the first 500 are the test set
    x_all, y_all = gd._embedded_arrays()
    perm = torch.randperm(5000, generator=torch.Generator().manual_seed(gd.SPLIT_SEED))
    assert torch.equal(mnist.x_test.reshape(500, -1), torch.from_numpy(x_all)[perm[:500]])
    assert torch.equal(mnist.y_train, torch.from_numpy(y_all)[perm[500:]])


def test_embedded_split_is_disjoint(mnist):
    train, test = _row_hashes(mnist.x_train), _row_hashes(mnist.x_test)
    assert len(train) == 4500 and len(test) == 500  # no duplicate image in the source data
    assert train.isdisjoint(test)


def test_digit_data_to_cpu(mnist):
    moved = mnist.to("cpu")
    assert isinstance(moved, DigitData)
    assert moved.x_train.device.type == "cpu"
    assert torch.equal(moved.x_test, mnist.x_test)
    assert moved.source == mnist.source and moved.num_classes == 10
    assert "train=(4500, 1, 28, 28)" in repr(moved)
    assert load_mnist(device="cpu").x_train.device.type == "cpu"


def test_unknown_mnist_source():
    with pytest.raises(ValueError, match="embedded"):
        load_mnist("kaggle")


# ------------------------------------------------------------------------------------- torchvision path
def test_torchvision_path_reads_back_the_same_tensors(tmp_path, mnist):
    small = DigitData(mnist.x_train[:64], mnist.y_train[:64], mnist.x_test[:32], mnist.y_test[:32])
    raw = write_mnist_idx(tmp_path, small)
    assert (raw / "train-images-idx3-ubyte").is_file()
    loaded = load_mnist("torchvision", root=tmp_path, download=False)
    assert loaded.source == "torchvision"
    for name in ("x_train", "y_train", "x_test", "y_test"):
        a, b = getattr(loaded, name), getattr(small, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        assert torch.equal(a, b), name


def test_torchvision_path_without_files_names_the_embedded_default(tmp_path):
    with pytest.raises(DataUnavailableError) as info:
        load_mnist("torchvision", root=tmp_path, download=False)
    message = str(info.value)
    assert "--data mnist" in message and "load_mnist()" in message
    assert str(tmp_path) in message


# ------------------------------------------------------------------------------------------------ toys
def test_ring8_modes_and_samples():
    toy = toy_distribution("ring8")
    assert toy.num_modes == 8 and toy.dim == 2 and toy.std == 0.01
    assert torch.allclose(toy.modes.norm(dim=1), torch.ones(8), atol=1e-6)
    angles = torch.atan2(toy.modes[:, 1], toy.modes[:, 0]).remainder(2 * math.pi).sort().values
    assert torch.allclose(angles, torch.arange(8) * (math.pi / 4), atol=1e-5)  # evenly spaced

    x, which = sample_toy("ring8", 16000, seed=1)
    assert x.shape == (16000, 2) and which.shape == (16000,)
    offset = x - toy.modes[which]
    assert offset.abs().max().item() < 5 * toy.std
    # every sample is nearest to its own mode
    assert torch.equal(torch.cdist(x, toy.modes).argmin(dim=1), which)
    counts = torch.bincount(which, minlength=8)
    assert counts.min().item() > 0.8 * 2000 and counts.max().item() < 1.2 * 2000
    for k in range(8):
        per_mode_std = offset[which == k].std(dim=0)
        assert torch.allclose(per_mode_std, torch.full((2,), toy.std), rtol=0.2), (k, per_mode_std)


def test_grid25_modes_and_samples():
    toy = toy_distribution("grid25")
    assert toy.std == 0.05 and toy.num_modes == 25
    expected = {(float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}
    assert {tuple(m.tolist()) for m in toy.modes} == expected

    x, which = sample_toy("grid25", 25000, seed=2)
    assert torch.equal(torch.cdist(x, toy.modes).argmin(dim=1), which)
    counts = torch.bincount(which, minlength=25)
    assert counts.min().item() > 850 and counts.max().item() < 1150  # ~1000 each, 5 sd either side
    assert (x - toy.modes[which]).std().item() == pytest.approx(toy.std, rel=0.05)


def test_mixture1d_weights_are_recovered():
    toy = toy_distribution("mixture1d")
    assert toy.num_modes == 2 and toy.dim == 1
    x, which = sample_toy("mixture1d", 20000, seed=3)
    assert x.shape == (20000, 1)
    # read the weights off the samples themselves: the modes at -2 and +2 (std 0.5) barely overlap
    assert (x[:, 0] < 0).float().mean().item() == pytest.approx(0.3, abs=0.02)
    assert (which == 1).float().mean().item() == pytest.approx(0.7, abs=0.02)
    assert x[which == 0].mean().item() == pytest.approx(-2.0, abs=0.05)
    assert x[which == 1].mean().item() == pytest.approx(2.0, abs=0.05)


@pytest.mark.parametrize("name", ["ring8", "grid25", "mixture1d"])
def test_log_prob_is_highest_at_the_modes(name):
    toy = toy_distribution(name)
    dist = toy.distribution()
    at_modes = dist.log_prob(toy.modes)  # (K,)
    between = dist.log_prob(0.5 * (toy.modes[:1] + toy.modes[1:2]))
    assert (at_modes > between + 5).all()
    # at a mode the density is its weight times the peak of one Gaussian (the others are far away)
    peak = torch.log(toy.mixture_weights()) - 0.5 * toy.dim * math.log(2 * math.pi * toy.std**2)
    assert torch.allclose(at_modes, peak, atol=1e-3)


def test_moons():
    x, y = sample_toy("moons", 300, seed=0)
    assert x.shape == (300, 2) and x.dtype == torch.float32
    assert y.shape == (300,) and y.dtype == torch.int64
    assert set(y.tolist()) == {0, 1}
    assert torch.equal(x, sample_toy("moons", 300, seed=0)[0])
    assert not torch.equal(x, sample_toy("moons", 300, seed=1)[0])


@pytest.mark.parametrize("name", ["ring8", "grid25", "mixture1d"])
def test_sample_toy_is_reproducible(name):
    a, ia = sample_toy(name, 500, seed=7)
    b, ib = sample_toy(name, 500, seed=7)
    c, _ = sample_toy(name, 500, seed=8)
    assert torch.equal(a, b) and torch.equal(ia, ib)
    assert not torch.equal(a, c)
    d, _ = sample_toy(name, 500, seed=7, device="cpu")
    assert torch.equal(a, d)


def test_unknown_toy_lists_the_names():
    with pytest.raises(ValueError, match="ring8.*grid25.*mixture1d"):
        toy_distribution("spiral")
    with pytest.raises(ValueError, match="ring8"):
        sample_toy("spiral", 10)
    with pytest.raises(ValueError):
        toy_distribution("ring8").sample(-1)


# ---------------------------------------------------------------------------------------------- batches
def test_iterate_minibatches_covers_every_index_once():
    index = torch.arange(103)
    labels = index * 10
    batches = list(iterate_minibatches(index, labels, batch_size=10, rng=torch.Generator().manual_seed(0)))
    assert [len(b[0]) for b in batches] == [10] * 10 + [3]  # the last partial batch is kept
    for xb, yb in batches:
        assert torch.equal(yb, xb * 10)  # the tensors are indexed together
    seen = torch.cat([b[0] for b in batches])
    assert torch.equal(seen.sort().values, index)
    assert not torch.equal(seen, index)  # shuffled


def test_iterate_minibatches_drop_last_and_no_shuffle():
    index = torch.arange(103)
    batches = [b for (b,) in iterate_minibatches(index, batch_size=10, drop_last=True)]
    assert [len(b) for b in batches] == [10] * 10
    assert len(torch.cat(batches).unique()) == 100
    ordered = [b for (b,) in iterate_minibatches(index, batch_size=50, shuffle=False)]
    assert torch.equal(torch.cat(ordered), index)


def test_infinite_minibatches_full_batches_reshuffled():
    index = torch.arange(10)
    stream = infinite_minibatches(index, batch_size=4, rng=torch.Generator().manual_seed(0))
    batches = [next(stream)[0] for _ in range(20)]  # 2 full batches per epoch, 10 epochs
    assert all(len(b) == 4 for b in batches)
    epochs = [torch.cat(batches[i : i + 2]) for i in range(0, 20, 2)]
    for epoch in epochs:
        assert len(epoch.unique()) == 8  # no repeat within an epoch
    assert len({tuple(e.tolist()) for e in epochs}) > 1  # reshuffled between epochs


def test_batching_rejects_bad_arguments():
    with pytest.raises(ValueError, match="first dimension"):
        next(iterate_minibatches(torch.arange(10), torch.arange(9), batch_size=2))
    with pytest.raises(ValueError, match="batch_size"):
        next(iterate_minibatches(torch.arange(10), batch_size=0))
    with pytest.raises(ValueError, match="batch_size"):
        next(infinite_minibatches(torch.arange(10), batch_size=0))
    with pytest.raises(ValueError, match="larger than"):
        next(infinite_minibatches(torch.arange(10), batch_size=11))
    with pytest.raises(ValueError, match="first dimension"):
        next(infinite_minibatches(torch.arange(10), torch.arange(11), batch_size=2))
    with pytest.raises(ValueError):
        next(iterate_minibatches(batch_size=2))


def test_sample_toy_leaves_global_random_state_alone():
    """Toy sampling uses its own generator: the global NumPy and torch streams are left alone."""
    torch.manual_seed(0)
    np.random.seed(0)
    expected_t, expected_n = torch.rand(3), np.random.rand(3)
    torch.manual_seed(0)
    np.random.seed(0)
    sample_toy("ring8", 100, seed=5)
    assert torch.equal(torch.rand(3), expected_t)
    assert np.array_equal(np.random.rand(3), expected_n)


def test_binarize_draws_each_pixel_with_its_grey_level_as_probability():
    grey = torch.tensor([0.0, 0.25, 0.5, 1.0]).repeat(20000, 1)
    draws = gd.binarize(grey, rng=torch.Generator().manual_seed(0))
    assert set(draws.unique().tolist()) <= {0.0, 1.0}
    # the mean of 20,000 draws is the grey level within 4 standard errors
    se = (grey[0] * (1 - grey[0]) / 20000).sqrt()
    assert ((draws.mean(0) - grey[0]).abs() <= 4 * se + 1e-12).all()
    # dynamic binarization: a fresh draw each pass, the same images underneath
    batches = [(grey[:5], torch.arange(5))] * 2
    first, second = list(gd.binarized(iter(batches), rng=torch.Generator().manual_seed(1)))
    assert torch.equal(first[1], torch.arange(5))
    assert not torch.equal(first[0], second[0])


def test_binarize_rejects_what_is_not_a_grey_level():
    with pytest.raises(ValueError, match="rescale"):
        gd.binarize(torch.tensor([0.0, 255.0]))
    with pytest.raises(ValueError, match="divide uint8"):
        gd.binarize(torch.tensor([0, 255], dtype=torch.uint8))
