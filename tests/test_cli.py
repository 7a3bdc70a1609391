"""The command line, in-process through ``genmodels.cli.main`` and once as ``python -m genmodels``."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from genmodels.checkpoints import load_checkpoint
from genmodels.cli import main
from genmodels.metrics import nearest_neighbor_distance


def _run(argv: list[str]) -> int:
    """``main(argv)``'s exit code, whether it returns it or argparse raises SystemExit."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


@pytest.fixture(scope="module")
def gaussian_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "g.pt"
    assert main(["train", "gaussian", "--data", "mnist", "--out", str(path)]) == 0
    return path


def test_help_through_python_m():
    env = {**os.environ, "GENMODELS_QUICK": "1"}
    result = subprocess.run([sys.executable, "-m", "genmodels", "--help"], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "train" in result.stdout and "sample" in result.stdout


def test_train_help_lists_models_and_data(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for word in ("gaussian", "vae", "mnist", "ring8", "--steps"):
        assert word in out


def test_gaussian_on_mnist_samples_the_requested_digit(gaussian_checkpoint, tmp_path, capsys, mnist):
    record = load_checkpoint(gaussian_checkpoint)
    assert record["model"] == "gaussian" and record["data"] == "mnist"
    assert record["sample_shape"] == [1, 28, 28]
    out = tmp_path / "samples" / "s.npy"
    assert main(["sample", str(gaussian_checkpoint), "-n", "8", "--label", "3", "--out", str(out)]) == 0
    assert "(8, 1, 28, 28)" in capsys.readouterr().out
    samples = np.load(out)
    assert samples.shape == (8, 1, 28, 28)
    assert samples.dtype == np.float32
    assert samples.min() >= 0.0 and samples.max() <= 1.0
    assert samples.std() > 0.1  # not blank images
    # the samples look like 3s: nearer to the real 3s than to the real digits of any other class
    x = torch.from_numpy(samples)
    distance = [nearest_neighbor_distance(x, mnist.x_train[mnist.y_train == k]).mean().item() for k in range(10)]
    assert min(range(10), key=distance.__getitem__) == 3, distance
    # the seed fixes the samples
    again = tmp_path / "again.npy"
    assert main(["sample", str(gaussian_checkpoint), "-n", "8", "--label", "3", "--out", str(again)]) == 0
    assert np.array_equal(np.load(again), samples)
    other = tmp_path / "other.npy"
    assert main(["sample", str(gaussian_checkpoint), "-n", "8", "--label", "3", "--seed", "1",
                 "--out", str(other)]) == 0
    assert not np.array_equal(np.load(other), samples)


def test_gaussian_on_ring8(tmp_path):
    ckpt, out = tmp_path / "ring.pt", tmp_path / "ring.npy"
    assert main(["train", "gaussian", "--data", "ring8", "--out", str(ckpt)]) == 0
    record = load_checkpoint(ckpt)
    assert record["sample_shape"] == [2] and record["config"]["num_classes"] == 1
    assert main(["sample", str(ckpt), "-n", "100", "--out", str(out)]) == 0
    samples = np.load(out)
    assert samples.shape == (100, 2) and samples.dtype == np.float32
    assert np.isfinite(samples).all()
    assert np.abs(samples.mean(0)).max() < 0.25  # one Gaussian fitted to the ring is centred on the origin


def test_gaussian_on_ring8_samples_follow_the_fitted_density(tmp_path):
    ckpt, out = tmp_path / "ring.pt", tmp_path / "ring.npy"
    assert main(["train", "gaussian", "--data", "ring8", "--out", str(ckpt)]) == 0
    assert main(["sample", str(ckpt), "-n", "2000", "--out", str(out)]) == 0
    samples = np.load(out).astype(np.float64)
    # the ring's covariance is I / 2 (radius 1, uniform angle); the fitted Gaussian has it, its samples should too
    assert np.allclose(np.cov(samples.T), 0.5 * np.eye(2), atol=0.1), np.cov(samples.T)


def test_vae_on_mnist(tmp_path, capsys):
    ckpt, out = tmp_path / "vae.pt", tmp_path / "vae.npy"
    assert main(["train", "vae", "--data", "mnist", "--steps", "5", "--out", str(ckpt)]) == 0
    assert "5 steps, final loss" in capsys.readouterr().out
    record = load_checkpoint(ckpt)
    assert record["steps"] == 5 and record["history"]["steps"] == [0, 4]
    assert record["budget"] == "quick"
    assert main(["sample", str(ckpt), "-n", "4", "--out", str(out)]) == 0
    samples = np.load(out)
    assert samples.shape == (4, 1, 28, 28)
    assert samples.min() >= 0.0 and samples.max() <= 1.0


# ------------------------------------------------------------------------------------------ bad inputs
def _one_line_error(capsys, *words: str) -> str:
    err = capsys.readouterr().err
    assert err.endswith("\n") and len(err.splitlines()) == 1, err
    assert err.startswith("genmodels"), err
    for word in words:
        assert word in err, err
    return err


@pytest.mark.parametrize("argv, words", [
    (["train", "transformer", "--data", "mnist", "--out", "x.pt"], ["invalid choice", "'transformer'"]),
    (["train", "gaussian", "--data", "cifar", "--out", "x.pt"], ["invalid choice", "'cifar'"]),
    (["train", "vae", "--data", "mnist", "--steps", "-5", "--out", "x.pt"], ["--steps", "at least 1"]),
    (["train", "vae", "--data", "mnist", "--steps", "0", "--out", "x.pt"], ["--steps", "at least 1"]),
    (["train", "vae", "--data", "mnist", "--seed", "abc", "--out", "x.pt"], ["--seed", "whole number"]),
    (["train", "vae", "--data", "mnist"], ["--out"]),
    (["sample", "x.pt", "-n", "0", "--out", "x.npy"], ["-n", "at least 1"]),
    (["sample", "x.pt", "-n", "2", "--label", "-1", "--out", "x.npy"], ["--label"]),
    ([], ["required"]),
], ids=["model", "data", "steps-negative", "steps-zero", "seed", "no-out", "n-zero", "label-negative", "nothing"])
def test_argument_errors(argv, words, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    _one_line_error(capsys, *words)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_model_data_mismatch(tmp_path, capsys):
    out = tmp_path / "x.pt"
    assert main(["train", "vae", "--data", "ring8", "--out", str(out)]) == 2
    _one_line_error(capsys, "'vae'", "'ring8'", "mnist")
    assert not out.exists()


def test_missing_checkpoint(tmp_path, capsys):
    missing = tmp_path / "missing.pt"
    assert main(["sample", str(missing), "-n", "2", "--out", str(tmp_path / "s.npy")]) == 2
    _one_line_error(capsys, "missing.pt", "no checkpoint")


def test_garbage_checkpoint(tmp_path, capsys):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00garbage" * 64)
    assert main(["sample", str(garbage), "-n", "2", "--out", str(tmp_path / "s.npy")]) == 2
    _one_line_error(capsys, "garbage.pt", "not a readable checkpoint")
    assert not (tmp_path / "s.npy").exists()


def test_label_out_of_range(gaussian_checkpoint, tmp_path, capsys):
    assert main(["sample", str(gaussian_checkpoint), "-n", "2", "--label", "12",
                 "--out", str(tmp_path / "s.npy")]) == 2
    _one_line_error(capsys, "--label", "between 0 and 9", "12")


def test_label_on_an_unconditional_checkpoint(tmp_path, capsys):
    ckpt = tmp_path / "ring.pt"
    assert main(["train", "gaussian", "--data", "ring8", "--out", str(ckpt)]) == 0
    capsys.readouterr()
    assert main(["sample", str(ckpt), "-n", "2", "--label", "0", "--out", str(tmp_path / "s.npy")]) == 2
    _one_line_error(capsys, "not conditional", "--label")


def test_out_must_be_npy(gaussian_checkpoint, tmp_path, capsys):
    assert main(["sample", str(gaussian_checkpoint), "-n", "2", "--out", str(tmp_path / "s.txt")]) == 2
    _one_line_error(capsys, ".npy", "s.txt")
    assert not (tmp_path / "s.txt").exists()


def test_mnist_full_offline_names_the_embedded_default(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GENMODELS_DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "full.pt"
    code = main(["train", "gaussian", "--data", "mnist-full", "--out", str(out)])
    if code == 0:
        pytest.skip("this machine is online: the full MNIST was downloaded")
    assert code == 2
    _one_line_error(capsys, "--data mnist", "full MNIST")
    assert not out.exists()


def test_every_registry_config_round_trips_through_a_checkpoint(tmp_path):
    """Config.from_dict reads back what a checkpoint stores (tuples come back as lists), for every model and data."""
    from genmodels.checkpoints import load_checkpoint, save_checkpoint
    from genmodels.registry import MODELS

    for name, spec in MODELS.items():
        for data in spec.data:
            config = spec.default_config(data)
            stored = load_checkpoint(save_checkpoint(tmp_path / f"{name}.pt", {"config": config}))["config"]
            assert spec.config.from_dict(stored).to_dict() == config, (name, data)
    with pytest.raises(ValueError, match="has no field"):
        MODELS["vae"].build({"data": "mnist"})
