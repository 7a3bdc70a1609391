"""Chapter 10: downsampling, bicubic upsampling, PSNR, SSIM, the SR generator, the feature loss, the CLI's srgan."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genmodels.checkpoints import load_checkpoint
from genmodels.cli import main
from genmodels.data import infinite_minibatches
from genmodels.imaging import block_shuffle, downsample, psnr, ssim, upsample_bicubic
from genmodels.losses import feature_loss
from genmodels.models import SRGAN, ClassifierConfig, DigitClassifier, SRConfig, SRGenerator
from genmodels.models.superres import FeatureContentLoss
from genmodels.paired_training import train_sr
from genmodels.paired_training import train_paired
from genmodels.registry import MODELS


# ------------------------------------------------------------------------------------------------ PSNR
def test_psnr_of_identical_images_is_infinite(mnist):
    assert torch.isinf(psnr(mnist.x_test[:4], mnist.x_test[:4])).all()


def test_psnr_of_a_known_error_follows_the_formula():
    x = torch.full((2, 1, 8, 8), 0.5)
    x_hat = x + 0.1  # MSE = 0.01 -> 10 log10(1 / 0.01) = 20 dB
    assert torch.allclose(psnr(x_hat, x), torch.full((2,), 20.0, dtype=torch.float64))
    assert math.isclose(psnr(x_hat * 2, x * 2, data_range=2.0)[0].item(), 20.0, rel_tol=1e-6)  # scale-free


def test_psnr_agrees_with_scikit_image():
    from skimage.metrics import peak_signal_noise_ratio

    gen = torch.Generator().manual_seed(0)
    x, x_hat = torch.rand(3, 1, 28, 28, generator=gen), torch.rand(3, 1, 28, 28, generator=gen)
    ours = psnr(x_hat, x)
    for i in range(3):
        theirs = peak_signal_noise_ratio(x[i, 0].double().numpy(), x_hat[i, 0].double().numpy(), data_range=1.0)
        assert math.isclose(ours[i].item(), theirs, rel_tol=1e-6)


def test_psnr_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        psnr(torch.zeros(1, 1, 28, 28), torch.zeros(1, 1, 7, 7))


# ------------------------------------------------------------------------------------------------ SSIM
def test_ssim_is_one_for_identical_images_and_lower_for_noisier_copies(mnist):
    x = mnist.x_test[:8]
    gen = torch.Generator().manual_seed(0)
    assert torch.allclose(ssim(x, x), torch.ones(8, dtype=torch.float64))
    a_little = (x + 0.05 * torch.randn(x.shape, generator=gen)).clamp(0, 1)
    a_lot = (x + 0.3 * torch.randn(x.shape, generator=gen)).clamp(0, 1)
    s_little, s_lot = ssim(a_little, x), ssim(a_lot, x)
    assert (s_little < 1).all() and (s_lot < s_little).all()
    assert s_lot.mean() < 0.7


def test_ssim_sees_structure_that_psnr_does_not(mnist):
    """Same mean squared error, different SSIM: a uniform brightness shift keeps the strokes, noise breaks them."""
    x = mnist.x_test[:8].double() * 0.8 + 0.1  # room to shift without clipping
    shift = x + 0.05
    noise = x + 0.05 * torch.where(torch.rand(x.shape, generator=torch.Generator().manual_seed(1)) < 0.5, -1.0, 1.0)
    assert torch.allclose(psnr(shift, x), psnr(noise, x))
    assert (ssim(shift, x) > ssim(noise, x)).all()


# ---------------------------------------------------------------------------- down- and upsampling
def test_downsampling_a_constant_image_gives_the_same_constant():
    x = torch.full((2, 1, 28, 28), 0.3)
    small = downsample(x, 4)
    assert small.shape == (2, 1, 7, 7) and torch.allclose(small, torch.full_like(small, 0.3))
    assert torch.allclose(upsample_bicubic(small, 4), x, atol=1e-6)


def test_downsampling_averages_blocks():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert torch.allclose(downsample(x, 2)[0, 0], torch.tensor([[2.5, 4.5], [10.5, 12.5]]))
    with pytest.raises(ValueError, match="divisor"):
        downsample(torch.zeros(1, 1, 28, 28), 3)


def test_block_shuffle_gives_other_images_with_the_same_low_resolution(mnist):
    x = mnist.x_test[:10]
    shuffled = block_shuffle(x, 4, rng=torch.Generator().manual_seed(0))
    assert not torch.equal(shuffled, x)
    assert torch.allclose(downsample(shuffled, 4), downsample(x, 4), atol=1e-6)
    assert torch.equal(shuffled.flatten(1).sort(1).values, x.flatten(1).sort(1).values)  # the same pixels, moved


# ----------------------------------------------------------------------------------- the SR generator
def test_sr_generator_upscales_by_its_factor():
    torch.manual_seed(0)
    net = SRGenerator(SRConfig(channels=8, num_blocks=1)).eval()
    out = net(torch.rand(3, 1, 7, 7))
    assert out.shape == (3, 1, 28, 28) and out.min() >= 0 and out.max() <= 1
    assert SRGenerator(SRConfig(scale=2, channels=8, num_blocks=1))(torch.rand(2, 1, 7, 7)).shape == (2, 1, 14, 14)
    with pytest.raises(ValueError, match="power of 2"):
        SRGenerator(SRConfig(scale=3))


def test_srgan_discriminator_scores_whole_images():
    model = SRGAN(SRConfig(channels=8, num_blocks=1, d_channels=4))
    assert model.discriminator(torch.rand(4, 1, 28, 28)).shape == (4,)


def test_a_tiny_sr_network_beats_bicubic_on_held_out_digits(mnist):
    torch.manual_seed(0)
    x_train, x_test = mnist.x_train[:2000], mnist.x_test[:200]
    net = SRGenerator(SRConfig(channels=16, num_blocks=1))
    batches = infinite_minibatches(downsample(x_train), x_train, batch_size=32,
                                   rng=torch.Generator().manual_seed(0))
    train_paired(net, None, batches, 300, lr=3e-3, pixel_loss="mse", pixel_weight=1.0, progress=False)
    x_lr = downsample(x_test)
    with torch.no_grad():
        ours = psnr(net(x_lr), x_test).mean().item()
    bicubic = psnr(upsample_bicubic(x_lr), x_test).mean().item()
    assert ours > bicubic + 1.0, (ours, bicubic)  # at least 1 dB better


# ---------------------------------------------------------------------------- the feature (perceptual) loss
def _feature_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return DigitClassifier(ClassifierConfig(channels=(4, 8))).conv[:4]  # conv-ReLU-pool-conv: (B, 8, 14, 14)


def test_feature_loss_is_zero_for_identical_images_and_the_mean_squared_feature_difference(mnist):
    phi, x = _feature_net(), mnist.x_test[:6]
    content = FeatureContentLoss(phi)
    assert content(x, x).item() == 0.0
    x_hat = x.flip(0)
    with torch.no_grad():
        expected = (phi(x_hat) - phi(x)).pow(2).mean()
    assert torch.allclose(content(x_hat, x), expected) and content(x_hat, x) > 0
    with pytest.raises(ValueError, match="same shape"):
        feature_loss(phi, x, x[:, :, :14])


def test_feature_loss_trains_the_input_only_and_keeps_the_feature_network_frozen(mnist):
    phi = _feature_net()
    before = [p.detach().clone() for p in phi.parameters()]
    content = FeatureContentLoss(phi)
    content.train()  # asking for training mode must not switch phi out of eval mode
    assert not phi.training and not any(p.requires_grad for p in phi.parameters())
    x = mnist.x_test[:4]
    x_hat = torch.rand_like(x).requires_grad_(True)
    content(x_hat, x).backward()
    assert x_hat.grad is not None and x_hat.grad.abs().sum() > 0
    assert all(p.grad is None for p in phi.parameters())
    # training an SR generator on it moves the generator and D, never phi
    model = SRGAN(SRConfig(channels=8, num_blocks=1, d_channels=4))
    g_before = [p.detach().clone() for p in model.generator.parameters()]
    batches = infinite_minibatches(downsample(mnist.x_train[:64]), mnist.x_train[:64], batch_size=16,
                                   rng=torch.Generator().manual_seed(0))
    history = train_sr(model, batches, 3, content, adversarial_weight=1e-2, lr=1e-3, progress=False,
                       log_every=1)
    assert {"content", "loss_d", "loss_g"} <= set(history.values)
    assert all(torch.equal(a, b) for a, b in zip(before, phi.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(g_before, model.generator.parameters()))


def test_a_feature_loss_on_an_identity_network_is_the_pixel_mse(mnist):
    x, x_hat = mnist.x_test[:4], mnist.x_test[4:8]
    assert torch.allclose(feature_loss(torch.nn.Identity(), x_hat, x), torch.nn.functional.mse_loss(x_hat, x))

# --------------------------------------------------------------------------------------------- CLI
def test_cli_trains_srgan_and_upscales_test_digits(tmp_path, capsys, mnist):
    ckpt, out = tmp_path / "sr.pt", tmp_path / "sr.npy"
    assert main(["train", "srgan", "--data", "mnist", "--steps", "3", "--out", str(ckpt)]) == 0
    assert "loss_d" in capsys.readouterr().out
    record = load_checkpoint(ckpt)
    assert record["model"] == "srgan" and record["sample_shape"] == [1, 28, 28]
    assert main(["sample", str(ckpt), "-n", "4", "--seed", "2", "--out", str(out)]) == 0
    samples = torch.from_numpy(np.load(out))
    assert samples.shape == (4, 1, 28, 28) and samples.min() >= 0 and samples.max() <= 1
    # `sample` upscales the 7 x 7 versions of held-out test digits
    model = MODELS["srgan"].build(record["config"])
    assert isinstance(model, SRGAN)
    model.load_state_dict(record["state_dict"])
    upscaled = model.eval().upscale(downsample(mnist.x_test))
    distance = torch.cdist(samples.flatten(1), upscaled.flatten(1))
    assert distance.min(dim=1).values.max() < 0.01  # float rounding only: other digits are ~100x farther
    again = tmp_path / "again.npy"
    assert main(["sample", str(ckpt), "-n", "4", "--seed", "2", "--out", str(again)]) == 0
    assert np.array_equal(np.load(again), samples.numpy())


def test_cli_sample_n_larger_than_the_test_digits_of_a_label(tmp_path):
    ckpt, out = tmp_path / "sr.pt", tmp_path / "sr.npy"
    assert main(["train", "srgan", "--data", "mnist", "--steps", "1", "--out", str(ckpt)]) == 0
    assert main(["sample", str(ckpt), "-n", "120", "--label", "0", "--out", str(out)]) == 0
    assert np.load(out).shape == (120, 1, 28, 28)
