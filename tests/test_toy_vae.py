"""The point VAE of chapter 12's trilemma table: its -ELBO is a bound on a true -log p(x) in nats."""

from __future__ import annotations

import math

import torch

from genmodels.losses import gaussian_vae_loss
from genmodels.models import ToyVAE, ToyVAEConfig
from genmodels.training import fit


def test_gaussian_vae_loss_is_the_negative_elbo_by_torch_distributions():
    torch.manual_seed(0)
    model = ToyVAE(ToyVAEConfig(data_dim=3, latent_dim=2, hidden_dim=8, num_layers=1))
    with torch.no_grad():
        model.log_sigma.copy_(torch.tensor([-1.0, 0.0, 0.5]))
    x = torch.randn(5, 3)
    torch.manual_seed(1)
    out = gaussian_vae_loss(model, x)
    torch.manual_seed(1)
    mean, mu, logvar = model(x)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    kl = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(1)
    rec = -torch.distributions.Normal(mean, torch.tensor([-1.0, 0.0, 0.5]).exp()).log_prob(x).sum(1)
    assert torch.allclose(out["loss"], (kl + rec).mean(), atol=1e-5)


def test_trained_on_gaussian_data_its_bound_reaches_the_true_entropy():
    # 1-D data N(3, 0.5^2): -log p(x) averages the entropy 0.5 log(2 pi e 0.25) = 0.726 nats. The -ELBO is a
    # bound on it (never below, up to the noise of the estimate) and a trained VAE closes the gap.
    torch.manual_seed(0)
    rng = torch.Generator().manual_seed(0)
    data = 3 + 0.5 * torch.randn(20_000, 1, generator=rng)
    model = ToyVAE(ToyVAEConfig(data_dim=1, latent_dim=1, hidden_dim=32, num_layers=2))
    batches = iter(lambda: (data[torch.randint(len(data), (256,), generator=rng)],), None)
    fit(model, gaussian_vae_loss, batches, 1500, lr=3e-3)
    entropy = 0.5 * math.log(2 * math.pi * math.e * 0.25)
    with torch.no_grad():
        bound = gaussian_vae_loss(model, data)["loss"].item()
    assert entropy - 0.02 < bound < entropy + 0.1, (bound, entropy)
    draws = model.sample(20_000, rng=torch.Generator().manual_seed(1))
    assert abs(draws.mean().item() - 3) < 0.05 and abs(draws.std().item() - 0.5) < 0.05


def test_a_non_positive_starting_sigma_is_a_clear_error():
    import pytest

    with pytest.raises(ValueError, match="init_sigma must be positive"):
        ToyVAE(ToyVAEConfig(init_sigma=0.0))
