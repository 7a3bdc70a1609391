"""Training across processes: ``torchrun --nproc_per_node=2 -m genmodels train ...`` on the CPU with gloo.

The torchrun runs are real (two processes, DistributedDataParallel); they are kept short because every
process start-up imports torch. The tolerance of the 1- vs 2-process comparison is stated at its test.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.distributed as dist
from torch import nn

from genmodels import distributed
from genmodels.checkpoints import load_checkpoint
from genmodels.cli import main
from genmodels.data import DigitData, infinite_minibatches, load_mnist, write_mnist_idx
from genmodels.distributed import GlobalBatchNorm, shard_minibatches
from genmodels.losses import vae_loss
from genmodels.models import MLPVAE, VAEConfig
from genmodels.recipes import VAE_RECIPE
from genmodels.runtime import seed_everything
from genmodels.training import fit

VAE_STEPS = 40
# The 2-process VAE sees the same initial weights and the same global batches as one process; only the noise
# eps of the reparameterization differs (each rank draws its own). Measured: the logged losses agree within
# 1.1% at every step (0.3% on average) over 60 steps, 1.7% (0.6%) over 200 steps, final loss 157.2 vs 154.7;
# two single-process runs whose noise alone differs end 2% apart (154.7 vs 157.8).
LOSS_RTOL = 0.02


def _torchrun(tmp_path, nproc: int, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GENMODELS_QUICK": "1", "OMP_NUM_THREADS": "1", "GENMODELS_DEVICE": "cpu", **extra_env}
    for name in distributed.RENDEZVOUS:  # torchrun sets them; a stale one from the test process must not leak
        env.pop(name, None)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "genmodels", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


# -------------------------------------------------------------------------------- the pieces, in-process
def test_shards_make_up_the_single_process_batches():
    x = torch.arange(100).float().unsqueeze(1)  # (100, 1): row i holds i
    single = infinite_minibatches(x, batch_size=20, rng=torch.Generator().manual_seed(3))
    shards = [shard_minibatches(x, batch_size=20, rank=r, world_size=4, rng=torch.Generator().manual_seed(3))
              for r in range(4)]
    seen = []
    for _ in range(12):  # more than two epochs
        (batch,) = next(single)
        parts = [next(shard)[0] for shard in shards]
        assert all(len(p) == 5 for p in parts)
        assert torch.equal(torch.cat(parts), batch)  # the ranks' rows, in rank order, are the global batch
        seen.append(parts[0])
    epoch = torch.cat(seen[:5]).flatten().tolist()  # rank 0's rows of one epoch: no row twice
    assert len(set(epoch)) == len(epoch) == 25


@pytest.fixture
def one_process_group(tmp_path):
    """A gloo process group of one rank in this process (all-reduce is then the identity)."""
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_global_batch_norm_is_batch_norm_over_the_global_batch(one_process_group):
    torch.manual_seed(0)
    reference = nn.BatchNorm2d(3)
    nn.init.normal_(reference.weight)
    nn.init.normal_(reference.bias)
    glob = distributed.global_batch_norm(nn.Sequential(nn.BatchNorm2d(3)), torch.device("cpu"))[0]
    glob.load_state_dict(reference.state_dict())
    assert isinstance(glob, GlobalBatchNorm)
    x = torch.randn(8, 3, 5, 5) * 2 + 1
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    for _ in range(2):  # two training steps: outputs, input gradients and running statistics agree
        y1, y2 = reference(x1), glob(x2)
        torch.testing.assert_close(y2, y1, atol=1e-5, rtol=1e-5)
        (y1 * torch.arange(5.0)).sum().backward()
        (y2 * torch.arange(5.0)).sum().backward()
    torch.testing.assert_close(x2.grad, x1.grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(glob.weight.grad, reference.weight.grad, atol=1e-4, rtol=1e-4)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        torch.testing.assert_close(getattr(glob, name), getattr(reference, name))
    reference.eval(), glob.eval()
    torch.testing.assert_close(glob(x), reference(x))


RENDEZVOUS_ENV = {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29999"}


@pytest.mark.parametrize("drop", ["MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE"])
def test_a_missing_rendezvous_variable_is_one_clear_error(drop, monkeypatch, capsys, tmp_path):
    for name, value in RENDEZVOUS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(drop)
    assert _run(["train", "vae", "--data", "mnist", "--steps", "1", "--out", str(tmp_path / "v.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and drop in err and "torchrun --nproc_per_node=N" in err
    assert not (tmp_path / "v.pt").exists()


@pytest.mark.parametrize("world_size, model, words", [
    ("3", "vae", "global batch of 128 cannot be split evenly over 3 processes"),
    ("256", "vae", "global batch of 128 cannot be split evenly over 256 processes"),
    ("2", "dcgan", "'dcgan' does not support training across processes"),
])
def test_a_launch_the_model_cannot_take_is_one_clear_error(world_size, model, words, monkeypatch, capsys, tmp_path):
    for name, value in {**RENDEZVOUS_ENV, "WORLD_SIZE": world_size}.items():
        monkeypatch.setenv(name, value)
    assert _run(["train", model, "--data", "mnist", "--steps", "1", "--out", str(tmp_path / "m.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err, err
    monkeypatch.setenv("RANK", "1")  # the same launch error on another rank: silent, so the launch shows it once
    assert _run(["train", model, "--data", "mnist", "--steps", "1", "--out", str(tmp_path / "m.pt")]) == 2
    assert capsys.readouterr().err == ""


# ------------------------------------------------------------------------- real launches with torchrun
def test_torchrun_vae_matches_one_process_and_samples(tmp_path):
    out = tmp_path / "vae.pt"
    result = _torchrun(tmp_path, 2, "train", "vae", "--data", "mnist", "--steps", str(VAE_STEPS), "--seed", "0",
                       "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("trained vae") == 1 and "2 processes on cpu" in result.stdout  # rank 0 only
    assert [p.name for p in tmp_path.iterdir()] == ["vae.pt"]  # no temporary file left, one checkpoint
    record = load_checkpoint(out)
    assert record["world_size"] == 2 and record["steps"] == VAE_STEPS

    # One process, plain `fit`, the same seed, recipe and global batches (a data order seeded with --seed).
    seed_everything(0)
    x = load_mnist().x_train
    model = MLPVAE(VAEConfig())
    batches = infinite_minibatches(x, batch_size=VAE_RECIPE.batch_size,
                                   rng=torch.Generator().manual_seed(0))
    history = fit(model, vae_loss, batches, VAE_STEPS, lr=VAE_RECIPE.train_args["lr"], progress=False)
    one, two = np.array(history["loss"]), np.array(record["history"]["values"]["loss"])
    assert record["history"]["steps"] == history.steps
    assert one[-1] < 0.9 * one[0]  # it learned
    np.testing.assert_allclose(two, one, rtol=LOSS_RTOL)

    samples = tmp_path / "s.npy"
    assert main(["sample", str(out), "-n", "4", "--out", str(samples)]) == 0
    assert np.load(samples).shape == (4, 1, 28, 28)


def test_torchrun_conditional_gan_on_mnist_full_trains_both_players_and_samples(tmp_path, mnist):
    # --data mnist-full from torchvision's files, written here from 640 embedded digits: no download
    data_dir = tmp_path / "data"
    write_mnist_idx(data_dir, DigitData(mnist.x_train[:640], mnist.y_train[:640], mnist.x_test[:64], mnist.y_test[:64]))
    out = tmp_path / "cgan.pt"
    result = _torchrun(tmp_path, 2, "train", "cgan", "--data", "mnist-full", "--steps", "8", "--out", str(out),
                       GENMODELS_DATA_DIR=str(data_dir))
    assert result.returncode == 0, result.stderr[-2000:]
    record = load_checkpoint(out)
    assert record["world_size"] == 2 and record["data"] == "mnist-full"
    assert set(record["history"]["values"]) >= {"loss_d", "loss_g"}
    assert any("running_mean" in k for k in record["state_dict"])  # G's batch norm, saved as plain BatchNorm keys
    samples = tmp_path / "threes.npy"
    assert main(["sample", str(out), "-n", "4", "--label", "3", "--out", str(samples)]) == 0
    x = np.load(samples)
    assert x.shape == (4, 1, 28, 28) and np.isfinite(x).all()


def test_torchrun_with_more_processes_than_the_batch_splits_into_fails_once(tmp_path):
    result = _torchrun(tmp_path, 3, "train", "vae", "--data", "mnist", "--steps", "1", "--out", str(tmp_path / "v.pt"))
    assert result.returncode != 0
    ours = [line for line in result.stderr.splitlines() if line.startswith("genmodels train: error:")]
    assert ours == ["genmodels train: error: vae's global batch of 128 cannot be split evenly over 3 processes: "
                    "launch a number of processes (nodes x --nproc_per_node) among 1, 2, 4, 8, 16, 32, 64, 128"]
    assert not (tmp_path / "v.pt").exists()


def test_torchrun_mnist_full_offline_is_one_clear_error(tmp_path):
    result = _torchrun(tmp_path, 2, "train", "vae", "--data", "mnist-full", "--steps", "1",
                       "--out", str(tmp_path / "v.pt"), GENMODELS_DATA_DIR=str(tmp_path / "empty"))
    if result.returncode == 0:
        pytest.skip("this machine is online: the full MNIST was downloaded")
    ours = [line for line in result.stderr.splitlines() if line.startswith("genmodels train: error:")]
    assert len(ours) == 1 and "--data mnist" in ours[0] and "full MNIST" in ours[0]
    assert "Traceback" not in result.stderr.split("genmodels train: error:")[0]  # the other rank stopped quietly
    assert "[rank1]" not in result.stderr


def test_the_buffer_sync_switch_matches_the_installed_ddp(monkeypatch):
    # torch >= 2.13 names it forward_sync_buffers (broadcast_buffers is deprecated); older ones only know the old name
    assert distributed._no_forward_buffer_sync() == {"forward_sync_buffers": False}

    class OldDDP:  # the signature of DistributedDataParallel before 2.13
        def __init__(self, module, device_ids=None, broadcast_buffers=True):
            pass

    monkeypatch.setattr(distributed, "DistributedDataParallel", OldDDP)
    assert distributed._no_forward_buffer_sync() == {"broadcast_buffers": False}
