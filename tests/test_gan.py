"""Chapters 4-5: the two-stage GAN update, the GAN losses, D*, the mode metric, the Fréchet distance, the CLI."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from genmodels.cli import main
from genmodels.data import toy_distribution
from genmodels.gan_training import discriminator_step, frozen, generator_step, train_gan
from genmodels.losses import GAN_LOSSES, discriminator_loss, generator_loss, gradient_penalty, r1_penalty
from genmodels.metrics import frechet_distance, mode_coverage
from genmodels.models import (
    GAN,
    CGANConfig,
    ConditionalDiscriminator,
    ConditionalGenerator,
    DCDiscriminator,
    DCGANConfig,
    DCGenerator,
    MLPDiscriminator,
    MLPGANConfig,
    MLPGenerator,
)
from helpers import Shift


def _params(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.fixture()
def pair():
    torch.manual_seed(0)
    config = MLPGANConfig(hidden_dim=16, num_layers=2)
    return MLPGenerator(config), MLPDiscriminator(config)


# -------------------------------------------------------------------------------- update isolation
def test_discriminator_step_changes_no_generator_parameter(pair):
    generator, discriminator = pair
    g_before, d_before = _params(generator), _params(discriminator)
    optimizer_d = torch.optim.SGD(discriminator.parameters(), lr=0.1)
    x_real, z = torch.randn(32, 2), torch.randn(32, 2)
    discriminator_step(generator, discriminator, optimizer_d, x_real, z, kind="minimax")
    assert _same(_params(generator), g_before), "stage 1 must not touch G"
    assert all(p.grad is None for p in generator.parameters()), "no gradient may even reach G in stage 1"
    assert not _same(_params(discriminator), d_before), "stage 1 must update D"


def test_generator_step_changes_no_discriminator_parameter_but_backpropagates_through_it(pair):
    generator, discriminator = pair
    g_before, d_before = _params(generator), _params(discriminator)
    z = torch.randn(32, 2)
    # the gradient G should get: d/d theta_G of -log D(G(z)), computed through a copy of D
    reference_g, reference_d = copy.deepcopy(generator), copy.deepcopy(discriminator)
    loss = F.softplus(-reference_d(reference_g(z))).mean()
    expected = torch.autograd.grad(loss, list(reference_g.parameters()))
    lr = 0.1
    generator_step(generator, discriminator, torch.optim.SGD(generator.parameters(), lr=lr), z, kind="non-saturating")

    assert _same(_params(discriminator), d_before), "stage 2 must not touch D"
    assert all(p.grad is None for p in discriminator.parameters()), "D's parameters must get no gradient"
    assert all(p.requires_grad for p in discriminator.parameters()), "D must be trainable again afterwards"
    assert any(g.abs().sum() > 0 for g in expected)
    for before, after, grad in zip(g_before, generator.parameters(), expected):  # SGD: after = before - lr * grad
        assert torch.allclose(after.detach(), before - lr * grad, atol=1e-6), "G's gradient must flow through D"


def test_frozen_restores_requires_grad_flags(pair):
    _, discriminator = pair
    first = next(discriminator.parameters())
    first.requires_grad_(False)  # a parameter frozen on purpose stays frozen
    with frozen(discriminator):
        assert not any(p.requires_grad for p in discriminator.parameters())
    assert not first.requires_grad
    assert all(p.requires_grad for p in list(discriminator.parameters())[1:])


def test_training_moves_the_generator_to_the_data():
    """A 1-D GAN with G(z) = z + b must move b from 0 to the data mean 3."""
    torch.manual_seed(0)

    generator = Shift()
    discriminator = nn.Sequential(nn.Linear(1, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1), nn.Flatten(0))
    gen = torch.Generator().manual_seed(0)
    batches = iter(lambda: (torch.randn(128, 1, generator=gen) + 3.0,), None)
    train_gan(generator, discriminator, batches, 400, latent_dim=1, lr_g=2e-2, lr_d=2e-2, progress=False)
    assert abs(generator.b.item() - 3.0) < 0.3


# -------------------------------------------------------------------------------------- GAN losses
def test_losses_match_their_closed_forms():
    real, fake = torch.tensor([2.0, -0.5, 0.0]), torch.tensor([-1.0, 0.3, 0.0])
    d_real, d_fake = torch.sigmoid(real), torch.sigmoid(fake)
    bce = -(torch.log(d_real) + torch.log(1 - d_fake))  # the notes' formula, negated
    assert torch.allclose(discriminator_loss(real, fake, "minimax"), bce)
    assert torch.allclose(discriminator_loss(real, fake, "non-saturating"), bce)
    assert torch.allclose(
        discriminator_loss(real, fake, "minimax"),
        F.binary_cross_entropy(d_real, torch.ones(3), reduction="none")
        + F.binary_cross_entropy(d_fake, torch.zeros(3), reduction="none"),
    )
    assert torch.allclose(generator_loss(fake, "minimax"), torch.log(1 - d_fake))
    assert torch.allclose(generator_loss(fake, "non-saturating"), -torch.log(d_fake))
    assert torch.allclose(discriminator_loss(real, fake, "wasserstein"), fake - real)
    assert torch.allclose(generator_loss(fake, "wasserstein"), -fake)
    assert torch.allclose(discriminator_loss(real, fake, "hinge"), torch.tensor([0.0, 1.5 + 1.3, 2.0]))
    assert torch.allclose(generator_loss(fake, "hinge"), -fake)
    # at the equilibrium D = 1/2 everywhere: D's loss is 2 log 2, G's (non-saturating) log 2
    zero = torch.zeros(1)
    assert torch.allclose(discriminator_loss(zero, zero), torch.tensor(2 * math.log(2)))
    assert torch.allclose(generator_loss(zero, "non-saturating"), torch.tensor(math.log(2)))


def test_minimax_generator_gradient_saturates_where_the_non_saturating_one_does_not():
    logits = torch.tensor([-6.0, 0.0, 6.0], requires_grad=True)  # D(G(z)) = 0.0025, 0.5, 0.9975
    (g_minimax,) = torch.autograd.grad(generator_loss(logits, "minimax").sum(), logits)
    (g_ns,) = torch.autograd.grad(generator_loss(logits, "non-saturating").sum(), logits)
    d, one_minus_d = torch.sigmoid(logits.detach()), torch.sigmoid(-logits.detach())  # 1 - d without cancellation
    assert torch.allclose(g_minimax, -d) and torch.allclose(g_ns, -one_minus_d)
    assert g_minimax[0].abs() < 0.01 and g_ns[0].abs() > 0.99  # a confident D: only one of them still teaches G


def test_losses_work_on_very_confident_logits():
    big = torch.tensor([80.0, -80.0])
    for kind in GAN_LOSSES:
        assert torch.isfinite(discriminator_loss(big, -big, kind)).all()
        assert torch.isfinite(generator_loss(big, kind)).all()


def test_unknown_loss_kind_is_a_clear_error():
    with pytest.raises(ValueError, match="minimax, non-saturating, wasserstein, hinge"):
        discriminator_loss(torch.zeros(2), torch.zeros(2), "least-squares")
    with pytest.raises(ValueError, match="unknown GAN loss kind 'nonsaturating'"):
        generator_loss(torch.zeros(2), "nonsaturating")


def test_r1_and_gradient_penalty_of_a_linear_critic():
    critic = nn.Linear(3, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 0.0, 4.0]]))  # ||grad_x l(x)|| = 5 everywhere
    critic_fn = lambda x: critic(x).squeeze(1)  # noqa: E731
    x_real, x_fake = torch.randn(7, 3), torch.randn(7, 3)
    assert torch.allclose(r1_penalty(critic_fn, x_real), torch.full((7,), 25.0))
    assert torch.allclose(gradient_penalty(critic_fn, x_real, x_fake), torch.full((7,), 16.0))
    r1 = r1_penalty(critic_fn, x_real).mean()
    r1.backward()  # the penalty is differentiable in D's weights: d/dw ||w||^2 = 2w
    assert torch.allclose(critic.weight.grad, 2 * critic.weight.detach())


# --------------------------------------------------------------------------- D* on two known densities
@pytest.mark.parametrize(
    "p_data, p_g",
    [
        ((0.0, 1.0), (1.5, 1.0)),  # log-ratio linear in x
        ((0.0, 0.5), (0.0, 1.5)),  # log-ratio quadratic in x
    ],
)
def test_trained_discriminator_approaches_the_optimal_one(p_data, p_g):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    data, model = torch.distributions.Normal(*p_data), torch.distributions.Normal(*p_g)
    discriminator = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1))
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=1e-2)
    for _ in range(400):
        x_real = p_data[0] + p_data[1] * torch.randn(512, 1, generator=gen)
        x_fake = p_g[0] + p_g[1] * torch.randn(512, 1, generator=gen)
        loss = discriminator_loss(discriminator(x_real).squeeze(1), discriminator(x_fake).squeeze(1)).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    x = torch.linspace(-1.5, 1.5, 61)[:, None]
    d_star = torch.sigmoid(data.log_prob(x) - model.log_prob(x))  # p_data / (p_data + p_g)
    with torch.no_grad():
        d_trained = torch.sigmoid(discriminator(x))
    assert (d_trained - d_star).abs().max() < 0.06


# ------------------------------------------------------------------------------------- mode coverage
def test_mode_coverage_on_hand_made_samples():
    ring = toy_distribution("ring8")
    modes, std = ring.modes, ring.std
    gen = torch.Generator().manual_seed(0)
    on_all = modes.repeat(300, 1) + 0.5 * std * torch.randn(2400, 2, generator=gen)
    result = mode_coverage(on_all, modes, std)
    assert (result.num_captured, result.num_modes, result.high_quality) == (8, 8, 1.0)
    assert result.counts == (300,) * 8

    one_mode = modes[3] + 0.5 * std * torch.randn(2500, 2, generator=gen)
    result = mode_coverage(one_mode, modes, std)
    assert result.num_captured == 1 and result.high_quality == 1.0 and result.counts[3] == 2500

    angles = torch.arange(8) * (2 * math.pi / 8) + math.pi / 8  # half-way between neighbouring modes
    off = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1).repeat(300, 1)
    result = mode_coverage(off, modes, std)
    assert result.num_captured == 0 and result.high_quality == 0.0

    inside, outside = modes[0] + torch.tensor([2.9 * std, 0.0]), modes[0] + torch.tensor([3.1 * std, 0.0])
    result = mode_coverage(torch.stack([inside, outside]), modes, std)
    assert result.high_quality == 0.5 and result.counts[0] == 1


def test_mode_coverage_respects_min_count():
    grid = toy_distribution("grid25")
    samples = torch.cat([grid.modes[:5].repeat(20, 1), grid.modes[5:7]])  # 20 each on 5 modes, 1 each on 2
    assert mode_coverage(samples, grid.modes, grid.std).num_captured == 7
    assert mode_coverage(samples, grid.modes, grid.std, min_count=20).num_captured == 5


# ----------------------------------------------------------------------------------- Fréchet distance
def test_frechet_distance_against_a_direct_computation():
    from scipy import linalg

    gen = torch.Generator().manual_seed(0)
    a = torch.randn(400, 5, generator=gen, dtype=torch.float64)
    b = torch.randn(300, 5, generator=gen, dtype=torch.float64) @ torch.randn(5, 5, generator=gen, dtype=torch.float64) + 1
    mu_a, mu_b = a.mean(0).numpy(), b.mean(0).numpy()
    cov_a, cov_b = np.cov(a.numpy().T), np.cov(b.numpy().T)
    expected = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * linalg.sqrtm(cov_a @ cov_b).real)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # two Gaussians with diagonal covariances: ||mu_a - mu_b||^2 + sum (s_a - s_b)^2
    x = torch.randn(200_000, 2, generator=gen, dtype=torch.float64)
    y = x * torch.tensor([2.0, 0.5], dtype=torch.float64) + torch.tensor([1.0, 0.0], dtype=torch.float64)
    assert frechet_distance(x, y) == pytest.approx(1.0 + 1.0 + 0.25, rel=0.02)


# ---------------------------------------------------------------------------------- models and CLI
def test_model_shapes():
    z = torch.randn(8, 64)
    x = DCGenerator(DCGANConfig())(z)
    assert x.shape == (8, 1, 28, 28) and 0 <= x.min() and x.max() <= 1
    assert DCDiscriminator(DCGANConfig())(x).shape == (8,)
    y = torch.arange(8)
    x = ConditionalGenerator(CGANConfig())(z, y)
    assert x.shape == (8, 1, 28, 28)
    assert ConditionalDiscriminator(CGANConfig())(x, y).shape == (8,)
    packed = MLPDiscriminator(MLPGANConfig(pack=4, minibatch_std=True))
    assert packed(torch.randn(12, 2)).shape == (3,)
    with pytest.raises(ValueError, match="divisible by pack=4"):
        packed(torch.randn(10, 2))
    assert GAN(MLPGANConfig()).sample(5).shape == (5, 2)
    with pytest.raises(TypeError):
        GAN(object())


def test_cli_trains_and_samples_the_gans(tmp_path, capsys):
    toy_ckpt, cgan_ckpt = tmp_path / "gan.pt", tmp_path / "cgan.pt"
    assert main(["train", "gan", "--data", "ring8", "--steps", "20", "--out", str(toy_ckpt), "--device", "cpu"]) == 0
    assert main(["sample", str(toy_ckpt), "-n", "50", "--out", str(tmp_path / "toy.npy"), "--device", "cpu"]) == 0
    assert np.load(tmp_path / "toy.npy").shape == (50, 2)
    assert main(["sample", str(toy_ckpt), "-n", "5", "--label", "1", "--out", str(tmp_path / "x.npy")]) == 2
    assert "not conditional" in capsys.readouterr().err

    assert main(["train", "cgan", "--data", "mnist", "--steps", "2", "--out", str(cgan_ckpt), "--device", "cpu"]) == 0
    out = tmp_path / "sevens.npy"
    assert main(["sample", str(cgan_ckpt), "-n", "6", "--label", "7", "--out", str(out), "--device", "cpu"]) == 0
    images = np.load(out)
    assert images.shape == (6, 1, 28, 28) and images.min() >= 0 and images.max() <= 1
    assert main(["sample", str(cgan_ckpt), "-n", "6", "--label", "10", "--out", str(out)]) == 2
    assert main(["train", "gan", "--data", "mnist", "--steps", "2", "--out", str(toy_ckpt)]) == 2


def test_the_toy_recipes():
    from genmodels.recipes import TOY_BASE, Recipe, mode_spacing, toy_recipe

    ring, grid = toy_distribution("ring8"), toy_distribution("grid25")
    assert mode_spacing(ring.modes) == pytest.approx(2 * math.sin(math.pi / 8))
    assert mode_spacing(grid.modes) == pytest.approx(2.0)
    _, recipe = toy_recipe("R1 + lr decay", grid.modes)
    assert isinstance(recipe, Recipe) and recipe.batch_size == TOY_BASE.batch_size == 256
    assert recipe.train_args["r1_gamma"] == pytest.approx(0.02 * 4) and recipe.train_args["decay_lr"]
    assert toy_recipe("PacGAN4", ring.modes) == ({"pack": 4}, TOY_BASE)
    with pytest.raises(ValueError, match="unknown toy method"):
        toy_recipe("BigGAN", ring.modes)
