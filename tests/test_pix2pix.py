"""Chapter 9: edge maps, the sharpness score, the U-Net, the PatchGAN, the paired step, colourized digits and
their colour measures, and the CLI's pix2pix."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from genmodels.checkpoints import load_checkpoint
from genmodels.cli import main
from genmodels.colour_digits import (
    colour_decisiveness, colour_frechet_distance, colourize, load_colour_digits, palette_share, red_share, to_grey,
)
from genmodels.data import infinite_minibatches
from genmodels.imaging import edge_map, sharpness, sobel_gradients
from genmodels.metrics import frechet_distance
from genmodels.registry import MODELS
from genmodels.models import Pix2Pix, Pix2PixConfig, PatchDiscriminator, UNetGenerator
from genmodels.paired_training import paired_discriminator_step, paired_generator_step, train_paired


def _params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


# ------------------------------------------------------------------------------------------ edge maps
def test_edge_map_of_a_blank_image_is_empty():
    assert edge_map(torch.zeros(2, 1, 28, 28)).sum() == 0
    assert edge_map(torch.ones(1, 1, 28, 28)).sum() == 0  # constant: no gradient anywhere


def test_edge_map_of_a_square_is_its_outline():
    x = torch.zeros(1, 1, 28, 28)
    x[..., 8:20, 8:20] = 1.0  # a filled square, rows and columns 8..19
    edges = edge_map(x)[0, 0]
    assert set(edges.unique().tolist()) <= {0.0, 1.0}
    border = torch.zeros(28, 28, dtype=torch.bool)
    border[6:22, 6:22] = True
    border[10:18, 10:18] = False  # a band of +-2 pixels around the square's boundary
    assert edges[~border].sum() == 0, "edges only near the boundary: none inside, none far outside"
    # every side of the outline is drawn along most of its length
    for side in (edges[6:10, 8:20].amax(0), edges[18:22, 8:20].amax(0), edges[8:20, 6:10].amax(1), edges[8:20, 18:22].amax(1)):
        assert side.mean() > 0.8


def test_edge_map_rejects_colour_images():
    with pytest.raises(ValueError, match="grey-level"):
        edge_map(torch.zeros(1, 3, 28, 28))


def test_edge_maps_of_digits_are_thin_outlines(mnist):
    x = mnist.x_test[:50]
    edges = edge_map(x)
    ink = x > 0.5
    assert 0.03 < edges.mean() < 0.2
    # the outline hugs the ink: nearly every edge pixel is within one pixel of an inked pixel
    near_ink = F.max_pool2d(ink.float(), 3, stride=1, padding=1) > 0
    assert (edges.bool() & ~near_ink).float().sum() / edges.sum() < 0.05


# ------------------------------------------------------------------------------------------ sharpness
def test_sobel_matches_scikit_image():
    from skimage.filters import sobel_h, sobel_v

    image = np.random.default_rng(0).random((12, 10))
    gx, gy = sobel_gradients(torch.from_numpy(image)[None, None])
    assert np.allclose(2 * gx[0, 0, 1:-1, 1:-1].numpy(), sobel_v(image)[1:-1, 1:-1], atol=1e-10)
    assert np.allclose(2 * gy[0, 0, 1:-1, 1:-1].numpy(), sobel_h(image)[1:-1, 1:-1], atol=1e-10)


def test_sharpness_is_zero_for_a_blank_image_and_drops_with_blur(mnist):
    assert torch.equal(sharpness(torch.zeros(3, 1, 28, 28)), torch.zeros(3))
    gx, gy = sobel_gradients(torch.full((1, 1, 28, 28), 0.7))  # constant: no gradient away from the border
    assert gx[..., 1:-1, 1:-1].abs().max() < 1e-6 and gy[..., 1:-1, 1:-1].abs().max() < 1e-6
    ramp = torch.arange(28.0).repeat(28, 1)[None, None] / 27  # rises by 1/27 per pixel, left to right
    gx, gy = sobel_gradients(ramp)
    assert torch.allclose(gx[..., 1:-1, 1:-1], torch.full((1, 1, 26, 26), 1 / 27)) and gy[..., 1:-1, 1:-1].abs().max() < 1e-6
    x = mnist.x_test[:100]
    blurred = F.avg_pool2d(x, 3, stride=1, padding=1)  # a 3 x 3 box blur
    assert (sharpness(blurred) < sharpness(x)).all()
    assert sharpness(x).mean() > 1.5 * sharpness(blurred).mean()


# ----------------------------------------------------------------------------------------- the U-Net
def test_unet_maps_an_image_to_an_image_in_0_1():
    torch.manual_seed(0)
    net = UNetGenerator(Pix2PixConfig(channels=4)).eval()
    out = net(torch.rand(3, 1, 28, 28))
    assert out.shape == (3, 1, 28, 28)
    assert out.min() >= 0 and out.max() <= 1


def test_unet_skip_connections_carry_detail_past_the_bottleneck():
    torch.manual_seed(0)
    net = UNetGenerator(Pix2PixConfig(channels=4)).eval()
    # cut the bottleneck: whatever reaches the output now goes through the skip connections only
    net.bottleneck.register_forward_hook(lambda module, args, out: torch.zeros_like(out))
    x = torch.zeros(1, 1, 28, 28)
    x_changed = x.clone()
    x_changed[..., 14, 20] = 1.0  # one pixel
    with torch.no_grad():
        change = (net(x_changed) - net(x)).abs()[0, 0]  # (28, 28)
    assert change[14, 20] > 1e-4, "the output must change where the input changed"
    assert change[14, 20] > change[0:4, 0:4].max(), "and more there than in a far corner"


def test_an_encoder_decoder_without_skips_loses_everything_at_a_cut_bottleneck():
    """The control for the test above: zero the skip features too and the input no longer matters."""
    torch.manual_seed(0)
    net = UNetGenerator(Pix2PixConfig(channels=4)).eval()
    for module in (net.bottleneck, net.enc2, net.enc1, net.enc0):
        module.register_forward_hook(lambda module, args, out: torch.zeros_like(out))
    with torch.no_grad():
        assert torch.equal(net(torch.zeros(1, 1, 28, 28)), net(torch.rand(1, 1, 28, 28)))


# ---------------------------------------------------------------------------------------- PatchGAN
def test_patchgan_gives_a_grid_of_logits():
    torch.manual_seed(0)
    d = PatchDiscriminator(Pix2PixConfig(d_channels=4))
    logits = d(torch.rand(5, 1, 28, 28), torch.rand(5, 1, 28, 28))
    assert logits.shape == (5, 7, 7)
    assert PatchDiscriminator.receptive_field() == 18


def test_each_patch_logit_sees_exactly_its_receptive_field():
    torch.manual_seed(0)
    d = PatchDiscriminator(Pix2PixConfig(d_channels=4))
    x = torch.rand(1, 1, 28, 28, requires_grad=True)
    x_in = torch.rand(1, 1, 28, 28, requires_grad=True)
    d(x, x_in)[0, 3, 3].backward()  # one logit in the middle of the grid
    r = PatchDiscriminator.receptive_field()
    for grad in (x.grad, x_in.grad):  # it depends on the image and on the condition
        rows, cols = grad[0, 0].abs().gt(0).nonzero(as_tuple=True)
        assert rows.max() - rows.min() + 1 == r and cols.max() - cols.min() + 1 == r
    assert r < 28, "a patch, not the whole image"


def test_unconditional_patchgan_sees_the_image_alone():
    d = PatchDiscriminator(Pix2PixConfig(in_channels=0, d_channels=4))
    assert d(torch.rand(2, 1, 28, 28)).shape == (2, 7, 7)


# ------------------------------------------------------------------------------ the paired two stages
@pytest.fixture()
def pair():
    torch.manual_seed(0)
    config = Pix2PixConfig(channels=4, d_channels=4)
    return UNetGenerator(config), PatchDiscriminator(config)


def test_discriminator_step_leaves_the_generator_alone(pair):
    generator, discriminator = pair
    g_before, d_before = _params(generator), _params(discriminator)
    x_in, x = torch.rand(4, 1, 28, 28), torch.rand(4, 1, 28, 28)
    paired_discriminator_step(generator, discriminator, torch.optim.SGD(discriminator.parameters(), lr=0.1), x_in, x)
    assert _same(_params(generator), g_before) and all(p.grad is None for p in generator.parameters())
    assert not _same(_params(discriminator), d_before)


def test_generator_step_follows_the_weighted_sum_of_pixel_and_adversarial_losses(pair):
    """One SGD step of G must be -lr * grad(pixel_weight * L1 + adversarial_weight * -log D(x_in, G(x_in))),
    the gradient computed here on copies; D stays untouched."""
    generator, discriminator = pair
    g_before, d_before = _params(generator), _params(discriminator)
    gen = torch.Generator().manual_seed(0)
    x_in, x = torch.rand(4, 1, 28, 28, generator=gen), torch.rand(4, 1, 28, 28, generator=gen)
    reference_g, reference_d = copy.deepcopy(generator), copy.deepcopy(discriminator)
    x_hat = reference_g(x_in)  # train mode, as in the step: batch norm uses this batch's statistics
    l1, adversarial = (x_hat - x).abs().mean(), F.softplus(-reference_d(x_hat, x_in)).mean()
    params = list(reference_g.parameters())
    grad_l1 = torch.autograd.grad(l1, params, retain_graph=True)
    grad_adv = torch.autograd.grad(adversarial, params)
    assert sum(g.abs().sum() for g in grad_adv) > 0  # the adversarial term does move G
    lr, pixel_weight, adversarial_weight = 0.01, 10.0, 3.0
    logged = paired_generator_step(generator, discriminator, torch.optim.SGD(generator.parameters(), lr=lr),
                                   x_in, x, pixel_weight=pixel_weight, adversarial_weight=adversarial_weight)
    assert torch.allclose(logged["l1"], l1.detach()) and torch.allclose(logged["loss_g"], adversarial.detach())
    for before, after, g1, g2 in zip(g_before, generator.parameters(), grad_l1, grad_adv):
        expected = before - lr * (pixel_weight * g1 + adversarial_weight * g2)
        assert torch.allclose(after.detach(), expected, atol=1e-6)
    assert _same(_params(discriminator), d_before)
    assert all(p.grad is None for p in discriminator.parameters())


def test_l1_training_beats_predicting_the_mean_digit(mnist):
    """A tiny U-Net on the pixel loss alone learns edges -> digit within seconds (held-out digits)."""
    torch.manual_seed(0)
    x_train, x_test = mnist.x_train[:1000], mnist.x_test[:200]
    e_train, e_test = edge_map(x_train), edge_map(x_test)
    net = UNetGenerator(Pix2PixConfig(channels=4))
    batches = infinite_minibatches(e_train, x_train, batch_size=32, rng=torch.Generator().manual_seed(0))
    history = train_paired(net, None, batches, 150, lr=3e-3, pixel_loss="l1", progress=False)
    assert "loss_d" not in history.values  # no discriminator: plain regression
    with torch.no_grad():
        error = (net(e_test) - x_test).abs().mean().item()
    mean_digit_error = (x_train.mean(0, keepdim=True) - x_test).abs().mean().item()
    assert error < 0.6 * mean_digit_error, (error, mean_digit_error)


def test_unknown_pixel_loss_is_refused(pair):
    generator, discriminator = pair
    with pytest.raises(ValueError, match="pixel loss"):
        train_paired(generator, discriminator, iter([]), 1, pixel_loss="l3", progress=False)


# --------------------------------------------------------------------------------------------- CLI
def test_cli_trains_pix2pix_and_translates_test_digits_of_a_label(tmp_path, capsys, mnist):
    ckpt, out = tmp_path / "p2p.pt", tmp_path / "p2p.npy"
    assert main(["train", "pix2pix", "--data", "mnist", "--steps", "3", "--out", str(ckpt)]) == 0
    assert "loss_d" in capsys.readouterr().out
    record = load_checkpoint(ckpt)
    assert record["model"] == "pix2pix" and record["sample_shape"] == [1, 28, 28]
    assert main(["sample", str(ckpt), "-n", "5", "--label", "3", "--out", str(out)]) == 0
    samples = torch.from_numpy(np.load(out))
    assert samples.shape == (5, 1, 28, 28) and samples.min() >= 0 and samples.max() <= 1
    # `sample` translates the edge maps of held-out test digits of the requested label
    model = MODELS["pix2pix"].build(record["config"])
    assert isinstance(model, Pix2Pix)
    model.load_state_dict(record["state_dict"])
    threes = model.eval().translate(edge_map(mnist.x_test[mnist.y_test == 3], record["config"]["edge_sigma"]))
    distance = torch.cdist(samples.flatten(1), threes.flatten(1))  # (5, number of test 3s)
    # (up to float rounding, which differs between batch sizes: other digits are ~100x farther)
    assert distance.min(dim=1).values.max() < 0.01, "each output is the translation of a test 3"
    assert len(set(distance.argmin(dim=1).tolist())) == 5, "five different test digits"


# ---------------------------------------------------------------------------- colourized digits (chapter 9)
def _stroke_image(*pixels: tuple[float, float, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """A (1, 3, 28, 28) image whose first len(pixels) pixels of row 10 have the given RGB, and its grey digit
    (1 on those pixels, 0 elsewhere)."""
    x, grey = torch.zeros(1, 3, 28, 28), torch.zeros(1, 1, 28, 28)
    for i, rgb in enumerate(pixels):
        x[0, :, 10, i] = torch.tensor(rgb)
        grey[0, 0, 10, i] = 1.0
    return x, grey


def test_colourize_paints_each_digit_in_one_palette_colour_half_of_them_red(mnist):
    x, colour = colourize(mnist.x_train, torch.Generator().manual_seed(0))
    assert x.shape == (len(mnist.x_train), 3, 28, 28) and torch.equal(to_grey(x), mnist.x_train)
    assert torch.equal(x[colour == 0, 1:].amax(), torch.tensor(0.0))  # red digits: nothing in G or B
    assert torch.equal(x[colour == 1][:, [0, 2]].amax(), torch.tensor(0.0))  # green digits: nothing in R or B
    # 4,500 fair coin flips: the share of red is 1/2 within 3 standard deviations (0.022)
    assert abs((colour == 0).float().mean().item() - 0.5) < 3 * (0.25 / len(x)) ** 0.5
    assert abs(red_share(x, mnist.x_train) - (colour == 0).float().mean().item()) < 1e-9


def test_colourize_rejects_colour_images():
    with pytest.raises(ValueError, match="grey digits"):
        colourize(torch.zeros(2, 3, 28, 28))


def test_colour_decisiveness_of_hand_made_images():
    red, green, olive, no_ink = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.5, 0.5, 0.0), (0.0, 0.0, 0.0)
    for pixels, expected in [((red, red), 1.0), ((green, red), 1.0), ((olive, olive), 0.0), ((no_ink,), 0.0),
                             ((red, (0.3, 0.1, 0.0)), (1 + 0.2 / 0.4) / 2), ((olive, red, red, green), 0.75)]:
        x, grey = _stroke_image(*pixels)
        assert colour_decisiveness(x, grey).item() == pytest.approx(expected), pixels


def test_palette_share_counts_stroke_pixels_near_red_or_green():
    x, grey = _stroke_image((1.0, 0.0, 0.0), (0.0, 0.8, 0.2), (0.5, 0.5, 0.0), (0.7, 0.0, 0.3), (0.0, 0.0, 0.0))
    # pure red and (0, 0.8, 0.2) are within 0.25 of a palette colour; olive, (0.7, 0, 0.3) and black are not
    assert palette_share(x, grey).item() == pytest.approx(2 / 5)
    assert palette_share(x, grey, tolerance=0.3).item() == pytest.approx(3 / 5)
    # the palette colour is scaled by the grey level: (0.6, 0, 0) is red on a 0.6-grey stroke, not on a black one
    dim_red, grey = _stroke_image((0.6, 0.0, 0.0))
    assert palette_share(dim_red, 0.6 * grey).item() == 1.0 and palette_share(dim_red, grey).item() == 0.0


def test_real_colour_digits_score_one_and_olive_scores_zero(mnist):
    digits = load_colour_digits(mnist)
    olive = digits.grey_test * torch.tensor([0.5, 0.5, 0.0])[None, :, None, None]
    assert colour_decisiveness(digits.x_test, digits.grey_test).min() > 0.999
    assert palette_share(digits.x_test, digits.grey_test).min() == 1.0
    assert colour_decisiveness(olive, digits.grey_test).max() < 1e-6
    assert palette_share(olive, digits.grey_test).max() == 0.0


def test_colour_frechet_distance_reads_each_channel_as_a_grey_image(mnist):
    class Pooled(torch.nn.Module):  # a stand-in judge: features = the 7 x 7 average-pooled image
        def __init__(self):
            super().__init__()
            self.dummy = torch.nn.Parameter(torch.zeros(1))

        def features(self, x):
            return F.avg_pool2d(x, 4).flatten(1)

    judge, digits = Pooled(), load_colour_digits(mnist)
    olive = digits.grey_test * torch.tensor([0.5, 0.5, 0.0])[None, :, None, None]
    all_red = digits.grey_test * torch.tensor([1.0, 0.0, 0.0])[None, :, None, None]
    # an image's features are its three channels' features side by side
    features = lambda x: torch.cat([judge.features(x[:, c:c + 1]) for c in range(3)], dim=1)  # noqa: E731
    assert colour_frechet_distance(judge, digits.x_test, olive) == pytest.approx(
        frechet_distance(features(digits.x_test), features(olive)))
    floor = colour_frechet_distance(judge, digits.x_train[:500], digits.x_test)
    assert colour_frechet_distance(judge, digits.x_test, olive) > 3 * floor
    assert colour_frechet_distance(judge, digits.x_test, all_red) > 3 * floor, "the share of red counts too"


def test_cli_trains_pix2pix_on_colour_digits_and_colours_held_out_grey_digits(tmp_path, capsys, mnist):
    ckpt, out = tmp_path / "colour.pt", tmp_path / "colour.npy"
    assert main(["train", "pix2pix", "--data", "colour-digits", "--loss", "l2", "--steps", "3",
                 "--out", str(ckpt)]) == 0
    assert "loss_d" not in capsys.readouterr().out  # L2 alone: no discriminator was trained
    record = load_checkpoint(ckpt)
    assert record["config"]["loss"] == "l2" and record["sample_shape"] == [3, 28, 28]
    assert main(["sample", str(ckpt), "-n", "4", "--out", str(out)]) == 0
    samples = torch.from_numpy(np.load(out))
    assert samples.shape == (4, 3, 28, 28) and samples.min() >= 0 and samples.max() <= 1
    model = MODELS["pix2pix"].build(record["config"])
    model.load_state_dict(record["state_dict"])
    coloured = model.eval().translate(mnist.x_test)  # the inputs are the grey test digits themselves
    distance = torch.cdist(samples.flatten(1), coloured.flatten(1))
    assert distance.min(dim=1).values.max() < 0.01, "each output colours a held-out grey digit"


@pytest.mark.parametrize("argv, words", [
    (["train", "vae", "--data", "mnist", "--loss", "l1"], ["--loss", "pix2pix", "'vae'"]),
    (["train", "vae", "--data", "colour-digits"], ["'vae'", "'colour-digits'"]),
], ids=["loss-of-another-model", "colour-digits-for-another-model"])
def test_cli_refuses_bad_loss_and_data_combinations(argv, words, tmp_path, capsys):
    out = tmp_path / "x.pt"
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and all(word in err for word in words), err
    assert not out.exists()


def test_cli_refuses_an_unknown_loss(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "pix2pix", "--data", "colour-digits", "--loss", "l3", "--out", "x.pt"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and len(err.splitlines()) == 1 and "'l3'" in err and "l1+gan" in err
    with pytest.raises(ValueError, match="l1\\+gan"):
        Pix2PixConfig(loss="gan")
