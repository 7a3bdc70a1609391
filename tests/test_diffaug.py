"""DiffAugment (Zhao et al., 2020) and the minibatch-std D for chapter 4's DCGAN: transformations, gradient, errors."""

import pytest
import torch

from genmodels.diffaug import diff_augment


def blob(batch: int = 64) -> torch.Tensor:
    x = torch.zeros(batch, 1, 28, 28)
    x[:, :, 10:18, 8:20] = torch.rand(batch, 1, 8, 12) + 0.1  # away from the border: no shift can push it out
    return x


def test_translation_moves_each_image_whole_by_at_most_an_eighth():
    torch.manual_seed(0)
    x = blob()
    y = diff_augment(x, "translation")
    shifts = set()
    for a, b in zip(x[:, 0], y[:, 0]):
        (r0, c0), (r1, c1) = a.nonzero().min(0).values, b.nonzero().min(0).values
        dr, dc = int(r1 - r0), int(c1 - c0)
        assert abs(dr) <= 4 and abs(dc) <= 4  # 28 / 8 = 3.5, rounded: 4 pixels at most
        assert torch.equal(torch.roll(a, (dr, dc), dims=(0, 1)), b)  # the same image, moved
        shifts.add((dr, dc))
    assert len(shifts) > 10, "each image draws its own shift"


def test_translation_brings_in_zeros_at_the_border():
    torch.manual_seed(1)
    y = diff_augment(torch.ones(256, 1, 28, 28), "translation")
    moved = y.sum((1, 2, 3)) < 784
    assert moved.float().mean() > 0.8 and y.min() == 0 and y.max() == 1


def test_cutout_zeros_one_square_of_half_the_side():
    torch.manual_seed(2)
    y = diff_augment(torch.ones(512, 1, 28, 28), "cutout")
    zeros = (y == 0).sum((1, 2, 3))
    assert zeros.max() == 14 * 14 and zeros.min() > 0  # inside: a 14 x 14 square; at the border: clipped
    for img in y[:, 0][zeros == 196][:20]:
        rows, cols = (img == 0).nonzero().unbind(1)
        assert rows.max() - rows.min() == 13 and cols.max() - cols.min() == 13


def test_gradient_flows_through_the_augmentation_to_the_generated_pixels():
    torch.manual_seed(3)
    x = blob(8).requires_grad_(True)
    diff_augment(x, "translation,cutout").sum().backward()
    assert x.grad is not None and 0 < x.grad.sum() < x.numel()  # kept pixels get 1, cut or shifted-out ones 0
    assert set(x.grad.unique().tolist()) <= {0.0, 1.0}


def test_empty_policy_is_the_identity_and_unknown_names_fail():
    x = blob(4)
    assert diff_augment(x, "") is x
    with pytest.raises(ValueError, match="unknown augmentation"):
        diff_augment(x, "translation,colour")


def test_the_gan_step_augments_both_batches_before_d_and_g_learns_through_it():
    from genmodels.gan_training import discriminator_step, generator_step
    from genmodels.models import DCGANConfig, DCDiscriminator, DCGenerator

    torch.manual_seed(4)
    config = DCGANConfig(latent_dim=8, channels=4)
    generator, discriminator = DCGenerator(config), DCDiscriminator(config)
    seen = []
    discriminator.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0].detach().clone()))
    x_real, z = blob(16), torch.randn(16, 8)
    opt_d = torch.optim.SGD(discriminator.parameters(), lr=0.0)
    discriminator_step(generator, discriminator, opt_d, x_real, z, augment="cutout")
    assert len(seen) == 2 and ((seen[0] == 0) & (x_real > 0)).any(), "D sees the real batch with squares cut"
    assert not torch.equal(seen[0], x_real)
    opt_g = torch.optim.SGD(generator.parameters(), lr=0.0)
    generator_step(generator, discriminator, opt_g, z, augment="cutout")
    with torch.no_grad():
        fake = generator(z)
    assert ((seen[2] == 0) & (fake > 0)).sum() >= 16 * 100, "G's step shows D cut fakes too"
    assert all(p.grad is not None for p in generator.parameters()), "the gradient flows through the augmentation"


def test_dcgan_minibatch_std_appends_the_batch_spread_before_the_head():
    from genmodels.models import DCGANConfig, DCDiscriminator

    torch.manual_seed(5)
    discriminator = DCDiscriminator(DCGANConfig(channels=4, minibatch_std=True)).eval()
    seen = {}
    discriminator.head.register_forward_hook(lambda module, inputs, output: seen.__setitem__("h", inputs[0]))
    x = blob(10)
    with torch.no_grad():
        logits = discriminator(x)
        h = discriminator.features(x)
    assert seen["h"].shape == (10, (8 + 1) * 49)
    assert torch.allclose(seen["h"][:, -49:], h.std(dim=0, unbiased=False).mean().expand(10, 49))
    spread = torch.cat([x[:1], x[0] + 3 * (x[1:] - x[0])])
    with torch.no_grad():
        assert abs(discriminator(spread)[0] - logits[0]).item() > 1e-5  # the same image, judged with its batch
