"""Chapters 4-5: the training mechanisms of the GAN loop, each checked by a number that changes without it.

R1 and the WGAN-GP penalty inside ``discriminator_step`` (closed forms on a linear critic), the linear
learning-rate decay, ``d_steps``, the evaluation mode that ``train_players`` leaves both players in (a
batch-norm generator must sample one image as it samples it in a batch), and the minibatch standard deviation
of the MLP discriminator. ``tests/mutation_check.py`` removes each of them in a copy of the package and
expects a test here to fail.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from genmodels.gan_training import discriminator_step, make_gan_step, train_gan, train_players
from genmodels.models import MLPDiscriminator, MLPGANConfig, MLPGenerator
from helpers import Shift


# ----------------------------------------------------------------------- penalties inside the D step
def _linear_pair(seed: int = 0) -> tuple[nn.Module, nn.Module]:
    """G: a fixed linear map of z; D: a linear critic l(x) = w . x + b, whose input gradient is w everywhere."""
    torch.manual_seed(seed)
    generator = nn.Linear(2, 2)
    discriminator = nn.Sequential(nn.Linear(2, 1), nn.Flatten(0))  # (B, 2) -> (B,)
    with torch.no_grad():
        discriminator[0].weight.copy_(torch.tensor([[1.5, -2.0]]))  # ||w|| = 2.5
    return generator, discriminator


def _d_weight_after_one_sgd_step(lr: float, **penalties) -> tuple[torch.Tensor, dict]:
    generator, discriminator = _linear_pair()
    gen = torch.Generator().manual_seed(1)
    x_real, z = torch.randn(16, 2, generator=gen), torch.randn(16, 2, generator=gen)
    optimizer = torch.optim.SGD(discriminator.parameters(), lr=lr)
    logged = discriminator_step(generator, discriminator, optimizer, x_real, z, kind="wasserstein", **penalties)
    return discriminator[0].weight.detach().clone(), logged


def test_r1_adds_gamma_times_w_to_the_gradient_of_a_linear_critic():
    """R1 = ||grad_x l(x)||^2 = ||w||^2 for a linear critic; gamma / 2 * R1 adds gamma * w to the gradient of w."""
    lr, gamma = 0.1, 0.8
    w0 = torch.tensor([[1.5, -2.0]])
    plain, _ = _d_weight_after_one_sgd_step(lr)
    with_r1, logged = _d_weight_after_one_sgd_step(lr, r1_gamma=gamma)
    assert logged["r1"].item() == pytest.approx(6.25, rel=1e-5)  # ||w||^2 = 1.5^2 + 2^2
    assert torch.allclose(with_r1 - plain, -lr * gamma * w0, atol=1e-6)


def test_gradient_penalty_pulls_the_critic_norm_towards_one():
    """GP = (||w|| - 1)^2 for a linear critic, whatever the mixing; its gradient is 2 (||w|| - 1) w / ||w||."""
    lr, weight = 0.1, 0.5
    w0 = torch.tensor([[1.5, -2.0]])
    plain, _ = _d_weight_after_one_sgd_step(lr)
    with_gp, logged = _d_weight_after_one_sgd_step(lr, gp_weight=weight)
    assert logged["gp"].item() == pytest.approx((2.5 - 1) ** 2, rel=1e-5)
    expected = -lr * weight * 2 * (2.5 - 1) * w0 / 2.5
    assert torch.allclose(with_gp - plain, expected, atol=1e-6)


def test_train_gan_passes_gp_weight_and_r1_gamma_to_the_d_step():
    """WGAN-GP through the public loop: a critic that starts with ||w|| = 2.5 is pulled towards norm 1."""

    def final_norm(**kwargs) -> float:
        generator, discriminator = _linear_pair()
        gen = torch.Generator().manual_seed(2)
        batches = iter(lambda: (torch.randn(32, 2, generator=gen),), None)
        train_gan(generator, discriminator, batches, 30, latent_dim=2, kind="wasserstein", lr_g=0.0, lr_d=0.05,
                  progress=False, **kwargs)
        return discriminator[0].weight.norm().item()

    plain, penalized = final_norm(), final_norm(gp_weight=10.0)
    assert abs(penalized - 1.0) < 0.2 < abs(plain - 1.0), (plain, penalized)
    assert final_norm(r1_gamma=20.0) < 0.5 * plain  # R1 shrinks the critic's slope towards 0


# ------------------------------------------------------------------------------- learning-rate decay
def _learning_rates(num_steps: int, **decay) -> list[tuple[float, float]]:
    """(lr of G, lr of D) at each step of ``train_players``, read inside the step."""
    generator, discriminator = nn.Linear(1, 1), nn.Linear(1, 1)
    seen = []

    def make_step(optimizer_g, optimizer_d):
        def step(i):
            seen.append((optimizer_g.param_groups[0]["lr"], optimizer_d.param_groups[0]["lr"]))
            optimizer_g.step(), optimizer_d.step()  # no gradients: changes nothing, keeps the scheduler in order
            return {}

        return step

    train_players(generator, discriminator, make_step, num_steps, lr_g=0.2, lr_d=0.1, betas=(0.5, 0.999),
                  progress=False, **decay)
    return seen


def test_linear_lr_decay_reaches_zero_from_the_start_step():
    seen = np.array(_learning_rates(10, decay_lr=True, decay_start=0.5))
    # steps 0-5 at the full rate, then 4/5, 3/5, 2/5, 1/5 of it: a straight line that would hit 0 at step 10
    factor = np.array([1, 1, 1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2])
    assert np.allclose(seen[:, 0], 0.2 * factor) and np.allclose(seen[:, 1], 0.1 * factor)
    assert np.allclose(np.array(_learning_rates(10)), [(0.2, 0.1)] * 10)  # no decay unless asked


def test_train_gan_decays_the_learning_rate_when_asked():
    """Through ``train_gan``: with decay from step 0, G's last update is a fifth as large as without decay."""

    def last_update(decay: bool) -> float:
        torch.manual_seed(0)
        generator, discriminator = Shift(), nn.Sequential(nn.Linear(1, 1), nn.Flatten(0))
        gen = torch.Generator().manual_seed(0)
        batches = iter(lambda: (torch.randn(64, 1, generator=gen) + 3.0,), None)
        values = []
        train_gan(generator, discriminator, batches, 5, latent_dim=1, kind="wasserstein", lr_g=0.1, lr_d=0.0,
                  betas=(0.0, 0.999), decay_lr=decay, callback=lambda i, logged: values.append(generator.b.item()), log_every=1,
                  progress=False)
        return values[-1] - values[-2]

    # G's Wasserstein loss -l(z + b) through a fixed linear D has a constant gradient in b, so Adam (beta1 = 0)
    # moves b by exactly lr per step; the last step's lr is 1/5 of it
    assert last_update(True) == pytest.approx(0.2 * last_update(False), rel=0.05)


# ------------------------------------------------------------------------------------------- d_steps
def test_d_steps_updates_d_that_many_times_per_g_update():
    torch.manual_seed(0)
    config = MLPGANConfig(hidden_dim=8, num_layers=2)
    generator, discriminator = MLPGenerator(config), MLPDiscriminator(config)
    optimizer_g = torch.optim.SGD(generator.parameters(), lr=0.01)
    optimizer_d = torch.optim.SGD(discriminator.parameters(), lr=0.01)
    counts = {"batches": 0, "d": 0, "g": 0}

    def batches():
        while True:
            counts["batches"] += 1
            yield (torch.randn(8, 2),)

    optimizer_d.register_step_post_hook(lambda *_: counts.__setitem__("d", counts["d"] + 1))
    optimizer_g.register_step_post_hook(lambda *_: counts.__setitem__("g", counts["g"] + 1))
    step = make_gan_step(generator, discriminator, optimizer_g, optimizer_d, batches(), 2, d_steps=3)
    step(0)
    step(1)
    assert counts == {"batches": 6, "d": 6, "g": 2}


def test_train_gan_passes_d_steps():
    torch.manual_seed(0)
    config = MLPGANConfig(hidden_dim=8, num_layers=2)
    generator, discriminator = MLPGenerator(config), MLPDiscriminator(config)
    drawn = []
    batches = iter(lambda: drawn.append(1) or (torch.randn(8, 2),), None)
    train_gan(generator, discriminator, batches, 4, latent_dim=2, d_steps=5, progress=False)
    assert len(drawn) == 4 * 5


# ------------------------------------------------------------------------- players left in eval mode
def test_a_batch_norm_generator_samples_in_eval_mode_after_training():
    """After ``train_gan`` G uses its running statistics: an image does not depend on the rest of its batch."""
    torch.manual_seed(0)
    config = MLPGANConfig(hidden_dim=16, num_layers=2, batch_norm=True)
    generator, discriminator = MLPGenerator(config), MLPDiscriminator(config)
    gen = torch.Generator().manual_seed(0)
    batches = iter(lambda: (torch.randn(32, 2, generator=gen),), None)
    train_gan(generator, discriminator, batches, 5, latent_dim=2, progress=False)
    assert not generator.training and not discriminator.training
    z = torch.randn(64, 2, generator=gen)
    with torch.no_grad():
        alone = torch.cat([generator(z[i : i + 2]) for i in range(0, 64, 2)])  # pairs: legal in train mode too
        together = generator(z)
    assert torch.allclose(alone, together, atol=1e-5)


# --------------------------------------------------------------------------- minibatch standard deviation
def test_minibatch_std_feeds_the_batch_spread_to_the_discriminator():
    torch.manual_seed(0)
    discriminator = MLPDiscriminator(MLPGANConfig(hidden_dim=16, num_layers=2, minibatch_std=True)).eval()
    seen = {}
    discriminator.rest.register_forward_hook(lambda module, inputs, output: seen.__setitem__("h", inputs[0]))
    x = torch.randn(10, 2, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = discriminator(x)
        h = discriminator.first(x).numpy()
    expected = h.std(axis=0).mean()  # population std of each hidden unit over the batch, averaged over units
    assert seen["h"].shape == (10, 17)
    assert np.allclose(seen["h"][:, -1].numpy(), expected, rtol=1e-5)
    # the same first sample in a batch of twice the spread gets another score
    spread = torch.cat([x[:1], x[0] + 3 * (x[1:] - x[0])])
    with torch.no_grad():
        assert abs(discriminator(spread)[0] - logits[0]).item() > 1e-4
        plain = MLPDiscriminator(MLPGANConfig(hidden_dim=16, num_layers=2)).eval()
        assert torch.allclose(plain(spread)[0], plain(x)[0])  # without the feature, D scores each sample alone
