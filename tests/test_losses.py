"""genmodels.losses and genmodels.metrics, checked against torch.distributions and hand-made cases."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from genmodels.losses import bernoulli_log_likelihood, kl_std_normal, negative_elbo, vae_loss
from genmodels.metrics import (
    accuracy,
    mean_pairwise_distance,
    nearest_neighbor_distance,
    per_label_accuracy,
    predict,
    test_negative_elbo as negative_elbo_on,  # renamed so pytest does not collect it as a test
)
from genmodels.models import MLPVAE, VAEConfig


# ----------------------------------------------------------------------------------------------- losses
def test_kl_is_zero_at_the_prior():
    kl = kl_std_normal(torch.zeros(4, 3), torch.zeros(4, 3))
    assert kl.shape == (4,)
    assert torch.equal(kl, torch.zeros(4))


def test_kl_matches_torch_distributions():
    gen = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(16, 5, generator=gen), torch.randn(16, 5, generator=gen)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(-1)
    kl = kl_std_normal(mu, logvar)
    assert kl.shape == (16,)
    assert torch.allclose(kl, expected, atol=1e-5)


def test_kl_matches_a_monte_carlo_estimate():
    torch.manual_seed(0)
    mu, logvar = torch.tensor([[0.7, -1.2, 0.1]]), torch.tensor([[0.5, -1.0, -0.2]])
    q = Normal(mu, (0.5 * logvar).exp())
    z = q.sample((200_000,)).squeeze(1)  # (S, 3)
    log_ratio = (q.log_prob(z) - Normal(0.0, 1.0).log_prob(z)).sum(-1)  # log q(z) - log p(z)
    estimate, standard_error = log_ratio.mean().item(), log_ratio.std().item() / math.sqrt(len(z))
    assert kl_std_normal(mu, logvar).item() == pytest.approx(estimate, abs=4 * standard_error)


def test_bernoulli_log_likelihood_matches_torch_distributions():
    gen = torch.Generator().manual_seed(1)
    logits = 3 * torch.randn(8, 784, generator=gen)
    x = (torch.rand(8, 1, 28, 28, generator=gen) > 0.5).float()
    expected = Bernoulli(logits=logits).log_prob(x.reshape(8, -1)).sum(-1)
    log_lik = bernoulli_log_likelihood(logits, x)
    assert log_lik.shape == (8,)
    assert torch.allclose(log_lik, expected, rtol=1e-5, atol=1e-3)
    # a confident, correct decoder explains the data almost perfectly
    assert bernoulli_log_likelihood(40 * (2 * x - 1), x).abs().max().item() < 1e-6


def _negative_elbo_reference(x, logits, mu, logvar, beta=1.0):
    """beta * KL(q || N(0, I)) - log p(x | z) from torch.distributions, x flattened to (B, D)."""
    q = Normal(mu, (0.5 * logvar).exp())
    kl = kl_divergence(q, Normal(0.0, 1.0)).sum(-1)
    log_lik = Bernoulli(logits=logits).log_prob(x.reshape(len(x), -1)).sum(-1)
    return beta * kl - log_lik, kl, -log_lik


def test_negative_elbo_matches_torch_distributions():
    gen = torch.Generator().manual_seed(2)
    x = (torch.rand(6, 784, generator=gen) > 0.5).float()  # binary: Bernoulli.log_prob wants 0/1 values
    logits = torch.randn(6, 784, generator=gen)
    mu, logvar = torch.randn(6, 4, generator=gen), torch.randn(6, 4, generator=gen)
    for beta in (1.0, 0.0, 0.5, 4.0):
        expected = _negative_elbo_reference(x, logits, mu, logvar, beta)[0]
        assert torch.allclose(negative_elbo(x, logits, mu, logvar, beta=beta), expected, rtol=1e-5, atol=1e-3)
    default = _negative_elbo_reference(x, logits, mu, logvar)[0]  # beta defaults to 1
    assert torch.allclose(negative_elbo(x, logits, mu, logvar), default, rtol=1e-5, atol=1e-3)


def test_vae_loss_is_the_mean_negative_elbo_at_one_reparameterized_sample():
    torch.manual_seed(3)
    model = MLPVAE(VAEConfig(data_dim=12, hidden_dim=8, latent_dim=2))
    x = (torch.rand(5, 12) > 0.5).float()
    torch.manual_seed(4)
    out = vae_loss(model, x, torch.zeros(5))
    with torch.no_grad():  # the same eps: reparameterize draws randn_like(mu) right after the encoder
        mu, logvar = model.encode(x)
        torch.manual_seed(4)
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        loss, kl, rec = _negative_elbo_reference(x, model.decode(z), mu, logvar)
    assert torch.allclose(out["loss"], loss.mean(), rtol=1e-5)
    assert torch.allclose(out["kl"], kl.mean(), rtol=1e-5) and torch.allclose(out["reconstruction"], rec.mean(), rtol=1e-5)


# ---------------------------------------------------------------------------------------------- metrics
def test_mean_pairwise_distance():
    assert mean_pairwise_distance(torch.ones(5, 3)) == 0.0
    assert mean_pairwise_distance(torch.tensor([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    # three points on a line at 0, 1, 3: distances 1, 3, 2
    line = torch.tensor([[0.0], [1.0], [3.0]])
    assert mean_pairwise_distance(line) == pytest.approx(2.0)
    images = torch.zeros(2, 1, 28, 28)
    images[1] = 1.0
    assert mean_pairwise_distance(images) == pytest.approx(28.0, rel=1e-5)
    with pytest.raises(ValueError):
        mean_pairwise_distance(torch.ones(1, 3))


def test_nearest_neighbor_distance():
    gen = torch.Generator().manual_seed(5)
    reference = torch.randn(50, 1, 4, 4, generator=gen)
    assert torch.allclose(nearest_neighbor_distance(reference[:10], reference), torch.zeros(10), atol=1e-3)
    points = torch.tensor([[0.0, 0.0], [10.0, 0.0]])
    reference2 = torch.tensor([[3.0, 4.0], [10.0, 1.0], [-6.0, -8.0]])
    assert torch.allclose(nearest_neighbor_distance(points, reference2), torch.tensor([5.0, 1.0]))


class _Fixed(torch.nn.Module):
    """Predicts the class stored in the first feature: a model whose accuracy is known."""

    def __init__(self):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return torch.nn.functional.one_hot(x[:, 0].long(), 3).float() + 0 * self.dummy


def test_accuracy_and_per_label_accuracy():
    x = torch.tensor([[0.0], [1.0], [2.0], [2.0], [1.0]])
    y = torch.tensor([0, 1, 2, 1, 0])
    model = _Fixed().train()
    assert predict(model, x, batch_size=2).shape == (5, 3)
    assert model.training  # predict restores the mode it found
    assert accuracy(model, x, y) == pytest.approx(3 / 5)
    per = per_label_accuracy(model, x, y, num_classes=4)
    assert per[:3] == pytest.approx([0.5, 0.5, 1.0])
    assert math.isnan(per[3])


def test_negative_elbo_metric_matches_the_loss():
    torch.manual_seed(6)
    model = MLPVAE(VAEConfig(data_dim=12, hidden_dim=8, latent_dim=2))
    x = torch.rand(7, 12)
    torch.manual_seed(7)
    value = negative_elbo_on(model, x, batch_size=3)
    torch.manual_seed(7)
    expected = torch.cat([negative_elbo(x[i : i + 3], *model(x[i : i + 3])) for i in range(0, 7, 3)]).mean()
    assert value == pytest.approx(expected.item(), rel=1e-5)
