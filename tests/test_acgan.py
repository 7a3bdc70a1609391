"""Chapter 8: digit attributes measured from pixels, the attribute-conditioned GAN (AC-GAN), its CLI entry."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from genmodels.attributes import (
    AttributeScaler,
    boundary_length,
    ink_area,
    measure_attributes,
    shear_images,
    slant,
    stroke_thickness,
)
from genmodels.checkpoints import load_checkpoint
from genmodels.cli import main
from genmodels.data import infinite_minibatches
from genmodels.gan_training import train_acgan
from genmodels.losses import (
    acgan_discriminator_loss,
    acgan_generator_loss,
    auxiliary_attribute_loss,
    auxiliary_class_loss,
)
from genmodels.models import ACDiscriminator, ACGANConfig, ACGenerator, ACOutput


def bar(width: float, length: float = 16.0, angle: float = 0.0, centre=(14.0, 14.0), supersample: int = 8):
    """An anti-aliased straight stroke (1, 1, 28, 28): ``angle`` degrees from vertical, its top leaning right."""
    n = 28 * supersample
    coords = (torch.arange(n, dtype=torch.float64) + 0.5) / supersample
    r, c = torch.meshgrid(coords, coords, indexing="ij")
    a = math.radians(angle)
    along = -(r - centre[0]) * math.cos(a) + (c - centre[1]) * math.sin(a)
    across = (r - centre[0]) * math.sin(a) + (c - centre[1]) * math.cos(a)
    inside = ((along.abs() <= length / 2) & (across.abs() <= width / 2)).float()
    return inside.reshape(28, supersample, 28, supersample).mean(dim=(1, 3))[None, None]


# ------------------------------------------------------------------------------------ thickness
@pytest.mark.parametrize("angle", [0, 20, 45, 70])
def test_thickness_of_a_bar_is_its_width(angle):
    for width in (2.0, 3.0, 4.0):
        measured = stroke_thickness(bar(width, angle=angle)).item()
        assert measured == pytest.approx(width, abs=0.4), (width, angle, measured)  # pixel effects: ~0.1-0.3


def test_a_thicker_stroke_measures_thicker(mnist):
    widths = [stroke_thickness(bar(w, angle=30)).item() for w in (1.5, 2.0, 2.5, 3.0, 4.0, 5.0)]
    assert all(a < b for a, b in zip(widths, widths[1:])), widths
    # real digits: a 3x3 maximum filter (morphological dilation) thickens every stroke
    x = mnist.x_test[:100]
    dilated = F.max_pool2d(x, 3, stride=1, padding=1)
    growth = stroke_thickness(dilated) - stroke_thickness(x)
    assert (growth > 1.0).all(), growth.min()


def test_area_boundary_and_width_of_a_rectangle():
    x = torch.zeros(1, 1, 28, 28)
    x[..., 5:21, 8:11] = 1.0  # a 16 x 3 rectangle: a straight, sharp stroke
    assert ink_area(x).item() == pytest.approx(48.0)
    # its outline is 2 (16 + 3) = 38 pixels; each of the 4 corner cells counts 1/sqrt(2) instead of 1
    assert boundary_length(x).item() == pytest.approx(38 - 4 * (1 - 1 / math.sqrt(2)), abs=1e-3)
    assert stroke_thickness(x).item() == pytest.approx(3.0, abs=0.2)


def test_thickness_is_invariant_to_translation_and_quarter_turns(mnist):
    x = mnist.x_test[:50]
    t = stroke_thickness(x)
    centre = x[:, :, 4:24, 4:24]  # the middle 20 x 20, placed in the 28 x 28 frame in two positions
    moved = F.pad(centre, (1, 7, 6, 2))  # (left, right, top, bottom): 3 pixels left and 2 down
    assert torch.allclose(stroke_thickness(moved), stroke_thickness(F.pad(centre, (4, 4, 4, 4))), atol=1e-4)
    for turned in (torch.rot90(x, 1, dims=(2, 3)), torch.rot90(x, 2, dims=(2, 3)), x.transpose(2, 3), x.flip(3)):
        assert torch.allclose(stroke_thickness(turned), t, atol=1e-4)
    # and barely changes under a small shear (which blurs a little when resampling, and thins a vertical
    # stroke by cos(atan(s)))
    ratio = stroke_thickness(shear_images(x, 0.2)) / t
    assert 0.9 < ratio.mean() < 1.1, ratio.mean()


# ---------------------------------------------------------------------------------------- slant
def test_an_upright_bar_has_no_slant_and_a_sheared_one_has_the_shear():
    x = bar(2.5, length=18)
    assert slant(x).abs().item() < 1e-6
    for s in (-0.4, -0.1, 0.25, 0.5):
        assert slant(shear_images(x, s)).item() == pytest.approx(s, abs=0.01)


def test_a_bar_leaning_right_has_positive_slant():
    angle = 20.0
    assert slant(bar(2.0, length=20, angle=angle)).item() == pytest.approx(math.tan(math.radians(angle)), abs=0.03)
    assert slant(bar(2.0, length=20, angle=-angle)).item() < 0


def test_shearing_a_real_digit_adds_the_shear_to_its_slant(mnist):
    x = mnist.x_test[:100]
    before = slant(x)
    for s in (-0.3, 0.3):
        change = slant(shear_images(x, s)) - before
        assert change.mean().item() == pytest.approx(s, abs=0.005)
        assert (change - s).abs().max().item() < 0.05


def test_slant_is_invariant_to_translation_and_ink_intensity(mnist):
    x = mnist.x_test[:50]
    centre = x[:, :, 4:24, 4:24]
    moved = F.pad(centre, (1, 7, 6, 2))  # 3 pixels left and 2 down of the centred F.pad(centre, (4, 4, 4, 4))
    assert torch.allclose(slant(moved), slant(F.pad(centre, (4, 4, 4, 4))), atol=1e-5)
    assert torch.allclose(slant(0.3 * x), slant(x), atol=1e-5)
    # a mirror image leans the other way
    assert torch.allclose(slant(x.flip(3)), -slant(x), atol=1e-4)


def test_attributes_reject_blank_images_and_bad_names():
    with pytest.raises(ValueError, match="no ink"):
        slant(torch.zeros(2, 1, 28, 28))
    with pytest.raises(ValueError, match="no ink"):
        stroke_thickness(torch.zeros(1, 1, 28, 28))
    with pytest.raises(ValueError, match="unknown attribute"):
        measure_attributes(bar(2.0), ("thickness", "colour"))
    with pytest.raises(ValueError, match="expected images"):
        slant(torch.rand(3, 5))


def test_measure_attributes_and_the_scaler(mnist):
    raw = measure_attributes(mnist.x_train[:1000])
    assert raw.shape == (1000, 2)
    assert torch.allclose(raw[:, 0], stroke_thickness(mnist.x_train[:1000]))
    assert torch.allclose(raw[:, 1], slant(mnist.x_train[:1000]))
    chunked = measure_attributes(mnist.x_train[:1000], batch_size=300)
    assert torch.allclose(chunked, raw)
    assert 1.5 < raw[:, 0].median() < 4.0  # MNIST strokes are two to three pixels wide
    scaler = AttributeScaler.fit(raw)
    a = scaler.normalize(raw)
    assert torch.allclose(a.mean(0), torch.zeros(2), atol=1e-5) and torch.allclose(a.std(0), torch.ones(2), atol=1e-5)
    assert torch.allclose(scaler.denormalize(a), raw, atol=1e-5)


# --------------------------------------------------------------------------------------- AC-GAN
def test_heads_and_generator_shapes():
    torch.manual_seed(0)
    config = ACGANConfig(latent_dim=8, channels=4)
    generator, discriminator = ACGenerator(config), ACDiscriminator(config)
    generator.eval()  # batch statistics would cancel a request shifted for the whole batch
    z, y, a = torch.randn(5, 8), torch.arange(5), torch.randn(5, 2)
    x = generator(z, y, a)
    assert x.shape == (5, 1, 28, 28) and 0 <= x.min() and x.max() <= 1
    out = discriminator(x)
    assert isinstance(out, ACOutput)
    assert out.logit.shape == (5,) and out.class_logits.shape == (5, 10) and out.attributes.shape == (5, 2)
    # the requested attribute changes the image; the label too
    assert not torch.allclose(generator(z, y, a + 1), x)
    assert not torch.allclose(generator(z, (y + 1) % 10, a), x)
    with pytest.raises(ValueError, match="attributes must have shape"):
        generator(z, y, torch.randn(5, 3))


def test_auxiliary_losses_match_their_closed_forms():
    torch.manual_seed(1)
    logits, y = torch.randn(6, 10), torch.randint(10, (6,))
    expected = -(logits.exp()[torch.arange(6), y] / logits.exp().sum(1)).log()
    assert torch.allclose(auxiliary_class_loss(logits, y), expected, atol=1e-6)
    predicted, target = torch.randn(6, 2), torch.randn(6, 2)
    expected = (predicted[:, 0] - target[:, 0]) ** 2 + (predicted[:, 1] - target[:, 1]) ** 2
    assert torch.allclose(auxiliary_attribute_loss(predicted, target), expected)
    # a perfect head costs nothing
    assert auxiliary_attribute_loss(target, target).abs().max() == 0
    assert auxiliary_class_loss(100 * F.one_hot(y, 10).float(), y).max() < 1e-6


@pytest.mark.parametrize("fake_aux_weight", [0.0, 1.0])
def test_discriminator_and_generator_losses_add_up(fake_aux_weight):
    torch.manual_seed(2)
    config = ACGANConfig(class_weight=0.7, attribute_weight=1.3, fake_aux_weight=fake_aux_weight)
    real = ACOutput(torch.randn(4), torch.randn(4, 10), torch.randn(4, 2))
    fake = ACOutput(torch.randn(4), torch.randn(4, 10), torch.randn(4, 2))
    y_real, y_fake = torch.randint(10, (4,)), torch.randint(10, (4,))
    a_real, a_fake = torch.randn(4, 2), torch.randn(4, 2)
    got = acgan_discriminator_loss(real, fake, y_real, a_real, y_fake, a_fake, config)
    bce = -(torch.sigmoid(real.logit).log() + (1 - torch.sigmoid(fake.logit)).log()).mean()
    ce = lambda lo, t: F.cross_entropy(lo, t)  # noqa: E731
    se = lambda p, t: (p - t).pow(2).sum(1).mean()  # noqa: E731
    expected = (bce + 0.7 * (ce(real.class_logits, y_real) + fake_aux_weight * ce(fake.class_logits, y_fake))
                + 1.3 * (se(real.attributes, a_real) + fake_aux_weight * se(fake.attributes, a_fake)))
    assert torch.allclose(got["loss"], expected, atol=1e-5)
    got_g = acgan_generator_loss(fake, y_fake, a_fake, config)
    expected_g = (-torch.sigmoid(fake.logit).log().mean() + 0.7 * ce(fake.class_logits, y_fake)
                  + 1.3 * se(fake.attributes, a_fake))
    assert torch.allclose(got_g["loss"], expected_g, atol=1e-5)


def test_a_short_training_run_learns_the_auxiliary_tasks(mnist):
    """In 150 steps D's heads learn to read labels and attributes of real digits, and G starts to obey them."""
    torch.manual_seed(0)
    x, y = mnist.x_train[:2000], mnist.y_train[:2000]
    scaler = AttributeScaler.fit(measure_attributes(x))
    a = scaler.normalize(measure_attributes(x))
    config = ACGANConfig(latent_dim=16, channels=8, fake_aux_weight=0.0)
    generator, discriminator = ACGenerator(config), ACDiscriminator(config)
    batches = infinite_minibatches(x, y, a, batch_size=64, rng=torch.Generator().manual_seed(0))
    history = train_acgan(generator, discriminator, batches, 150, lr_g=1e-3, lr_d=1e-3, log_every=10, progress=False)
    assert history["class_real"][0] > 2.0 and np.mean(history["class_real"][-3:]) < 1.0
    assert history["attr_real"][0] > 1.0 and np.mean(history["attr_real"][-3:]) < 0.8
    # slant is the easiest attribute to obey: requested and measured slant already correlate
    requested = torch.zeros(200, 2)
    requested[:, 1] = torch.linspace(-1.5, 1.5, 200)
    with torch.no_grad():
        x_fake = generator(torch.randn(200, 16), torch.arange(200) % 10, requested)
    measured = scaler.normalize(measure_attributes(x_fake))[:, 1]
    r = torch.corrcoef(torch.stack([requested[:, 1], measured]))[0, 1].item()
    assert r > 0.3, r


# ------------------------------------------------------------------------------------------ CLI
def test_cli_trains_and_samples_the_acgan(tmp_path, capsys):
    ckpt, out = tmp_path / "acgan.pt", tmp_path / "s.npy"
    assert main(["train", "acgan", "--data", "mnist", "--steps", "3", "--out", str(ckpt), "--device", "cpu"]) == 0
    assert "class_real" in capsys.readouterr().out
    record = load_checkpoint(ckpt)
    assert record["model"] == "acgan" and record["steps"] == 3
    # the attribute standardization of the training digits travels with the weights
    mean = record["state_dict"]["attribute_mean"]
    assert 2.0 < mean[0] < 3.5 and 0.0 < mean[1] < 0.4
    assert main(["sample", str(ckpt), "-n", "6", "--label", "7", "--out", str(out), "--device", "cpu"]) == 0
    samples = np.load(out)
    assert samples.shape == (6, 1, 28, 28) and samples.min() >= 0 and samples.max() <= 1
    assert main(["sample", str(ckpt), "-n", "6", "--out", str(tmp_path / "any.npy")]) == 0
    assert main(["sample", str(ckpt), "-n", "6", "--label", "10", "--out", str(out)]) == 2
    assert "between 0 and 9" in capsys.readouterr().err
    assert main(["train", "acgan", "--data", "ring8", "--steps", "2", "--out", str(tmp_path / "x.pt")]) == 2
