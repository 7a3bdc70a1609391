"""Chapters 2-3: the VAE family (ConvVAE, Autoencoder, ConditionalVAE), their losses, bounds and explorers.

Each test checks a number that a wrong implementation would get wrong: a KL that is not zero for identical
Gaussians, a Monte Carlo estimate outside its standard error, a loss that differs from torch.distributions',
samples of the wrong digit. The IWAE bounds are checked against a true log p(x) in test_references.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from genmodels import seed_everything
from genmodels.checkpoints import load_checkpoint
from genmodels.cli import main
from genmodels.data import infinite_minibatches
from genmodels.judges import load_digit_classifier
from genmodels.losses import (
    cvae_loss,
    gaussian_log_likelihood,
    kl_std_normal,
    negative_elbo,
    sliced_wasserstein,
    vae_loss,
)
from genmodels.metrics import (
    accuracy,
    active_units,
    iwae_from_log_weights,
    latent_activity,
    log_importance_weights,
)
from genmodels.models import (
    MLPVAE,
    Autoencoder,
    ConditionalVAE,
    ConvVAE,
    ConvVAEConfig,
    CVAEConfig,
    VAEConfig,
    reparameterize,
)
from genmodels.training import fit
from genmodels.widgets import digit_to_png, image_explorer


def _train(model, loss_fn, mnist, num_steps, lr=3e-3):
    seed_everything(0)
    batches = infinite_minibatches(mnist.x_train, mnist.y_train, batch_size=128,
                                   rng=torch.Generator().manual_seed(0))
    fit(model, loss_fn, batches, num_steps, lr=lr, progress=False)
    return model.eval()


@pytest.fixture(scope="module")
def trained_vae(mnist):
    """A small MLP VAE after 250 steps: far from converged, but a real encoder and decoder."""
    return _train(MLPVAE(VAEConfig(hidden_dim=200, latent_dim=10)), vae_loss, mnist, 250)


@pytest.fixture(scope="module")
def trained_cvae(mnist):
    return _train(ConditionalVAE(CVAEConfig(latent_dim=2)), cvae_loss, mnist, 300)


# ------------------------------------------------------------------------------------------ the KL term
def test_kl_of_identical_gaussians_is_zero():
    mu, logvar = torch.zeros(3, 20), torch.zeros(3, 20)
    assert torch.equal(kl_std_normal(mu, logvar), torch.zeros(3))
    # ... and positive as soon as the blob moves or changes width
    assert (kl_std_normal(mu + 0.1, logvar) > 0).all() and (kl_std_normal(mu, logvar - 0.1) > 0).all()


def test_analytic_kl_matches_monte_carlo_within_its_standard_error():
    gen = torch.Generator().manual_seed(1)
    mu, logvar = torch.randn(5, 8, generator=gen), torch.randn(5, 8, generator=gen)
    q = Normal(mu, torch.exp(0.5 * logvar))
    torch.manual_seed(2)
    z = q.sample((200_000,))  # (N, 5, 8)
    log_ratio = (q.log_prob(z) - Normal(0.0, 1.0).log_prob(z)).sum(-1)  # (N, 5)
    estimate, standard_error = log_ratio.mean(0), log_ratio.std(0) / math.sqrt(len(log_ratio))
    assert ((kl_std_normal(mu, logvar) - estimate).abs() < 4 * standard_error).all()
    assert torch.allclose(kl_std_normal(mu, logvar), kl_divergence(q, Normal(0.0, 1.0)).sum(-1), atol=1e-5)


def test_reparameterized_samples_have_the_requested_mean_and_std():
    mu = torch.tensor([[-1.0, 0.0, 2.5]]).expand(200_000, 3)
    logvar = torch.log(torch.tensor([[0.25, 1.0, 4.0]])).expand(200_000, 3)
    torch.manual_seed(0)
    z = reparameterize(mu, logvar)
    assert torch.allclose(z.mean(0), mu[0], atol=4 * 2.0 / math.sqrt(200_000))
    assert torch.allclose(z.std(0), torch.tensor([0.5, 1.0, 2.0]), rtol=0.01)


# ----------------------------------------------------------------------------------- the likelihoods
def test_gaussian_log_likelihood_is_normal_log_prob_and_scaled_mse():
    gen = torch.Generator().manual_seed(0)
    x, x_hat = torch.rand(6, 1, 28, 28, generator=gen), torch.rand(6, 784, generator=gen)
    for logvar in (0.0, -3.0, torch.full((784,), -1.5)):
        std = torch.exp(0.5 * torch.as_tensor(logvar))
        expected = Normal(x_hat, std).log_prob(x.reshape(6, -1)).sum(1)
        assert torch.allclose(gaussian_log_likelihood(x_hat, x, logvar), expected, rtol=1e-5)
    sigma2 = 0.5  # -log N(x; x_hat, 1/2) = ||x - x_hat||^2 + (D/2) log(pi)
    mse_sum = (x.reshape(6, -1) - x_hat).pow(2).sum(1)
    assert torch.allclose(-gaussian_log_likelihood(x_hat, x, math.log(sigma2)), mse_sum + 392 * math.log(math.pi))


def test_vae_loss_beta_weighs_only_the_kl():
    model = MLPVAE(VAEConfig(data_dim=12, hidden_dim=8, latent_dim=2))
    x = torch.rand(5, 12, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    plain = vae_loss(model, x)
    torch.manual_seed(0)
    heavy = vae_loss(model, x, beta=4.0)
    assert torch.allclose(heavy["kl"], plain["kl"]) and torch.allclose(heavy["reconstruction"], plain["reconstruction"])
    assert torch.allclose(heavy["loss"], plain["reconstruction"] + 4 * plain["kl"])


def test_cvae_loss_is_the_conditional_negative_elbo():
    """-ELBO(x | y) = KL(q(z | x, y) || N(0, I)) - log p(x | z, y), from torch.distributions at the loss's own z."""
    model = ConditionalVAE(CVAEConfig(data_dim=12, hidden_dim=16, latent_dim=3, num_classes=4))
    x = (torch.rand(6, 12, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    torch.manual_seed(1)
    out = cvae_loss(model, x, y)
    with torch.no_grad():
        mu, logvar = model.encode(x, y)
        torch.manual_seed(1)  # the same eps: reparameterize draws randn_like(mu) right after the encoder
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        q = Normal(mu, (0.5 * logvar).exp())
        kl = kl_divergence(q, Normal(0.0, 1.0)).sum(-1)
        log_lik = Bernoulli(logits=model.decode(z, y)).log_prob(x).sum(-1)
    assert torch.allclose(out["loss"], (kl - log_lik).mean(), rtol=1e-5)
    assert torch.allclose(out["kl"], kl.mean(), rtol=1e-5)
    torch.manual_seed(1)
    assert torch.allclose(cvae_loss(model, x, y, beta=3.0)["loss"], (3 * kl - log_lik).mean(), rtol=1e-5)
    other = torch.tensor([1, 2, 3, 0, 1, 2])  # the label is an input: another label, another loss
    torch.manual_seed(1)
    assert not torch.allclose(out["loss"], cvae_loss(model, x, other)["loss"])


def test_sliced_wasserstein_is_exact_w2_in_one_dimension_and_zero_for_equal_samples():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(300, 1, generator=gen), 2 + torch.randn(300, 1, generator=gen)
    assert torch.allclose(sliced_wasserstein(x, y, 5, gen), (x.sort(0).values - y.sort(0).values).pow(2).mean())
    points = torch.randn(100, 3, generator=gen)
    assert sliced_wasserstein(points, points[torch.randperm(100, generator=gen)], 16, gen).item() < 1e-10
    assert sliced_wasserstein(points, points + 1.0, 256, gen).item() > 0.1
    with pytest.raises(ValueError):
        sliced_wasserstein(points, points[:50])


# ------------------------------------------------------------------------------------------- models
def test_conv_vae_and_autoencoder_shapes():
    x = torch.rand(3, 1, 28, 28)
    logits, mu, logvar = ConvVAE(ConvVAEConfig(latent_dim=5))(x)
    assert logits.shape == (3, 784) and mu.shape == logvar.shape == (3, 5)
    assert ConvVAE().sample(4, rng=torch.Generator().manual_seed(0)).shape == (4, 784)
    ae = Autoencoder(VAEConfig(latent_dim=2))
    assert ae.encode(x).shape == (3, 2) and ae(x.flatten(1)).shape == (3, 784)


# ------------------------------------------------------------------------------------------- bounds
def test_log_importance_weights_with_the_prior_as_encoder_are_log_likelihoods():
    """With q(z | x) = p(z), log w = log p(x | z) + log p(z) - log q(z) = log p(x | z) for the very same z."""

    class PriorEncoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.decoder = torch.nn.Linear(2, 12)

        def encode(self, x):
            return torch.zeros(len(x), 2), torch.zeros(len(x), 2)

        def decode(self, z):
            return self.decoder(z)

    torch.manual_seed(0)
    model = PriorEncoder()
    x = torch.rand(4, 12, generator=torch.Generator().manual_seed(0))
    log_w = log_importance_weights(model, x, 7, rng=torch.Generator().manual_seed(5))
    z = torch.randn(7, 4, 2, generator=torch.Generator().manual_seed(5))  # the same draws
    with torch.no_grad():
        expected = -torch.nn.functional.binary_cross_entropy_with_logits(
            model.decoder(z), x.expand(7, 4, 12), reduction="none").sum(-1)
    assert log_w.shape == (7, 4)
    assert torch.allclose(log_w, expected, atol=1e-5)


def test_iwae_from_log_weights_groups():
    log_w = torch.log(torch.tensor([[1.0], [3.0], [2.0], [6.0]]))  # K = 4 weights of one image
    assert iwae_from_log_weights(log_w, 1) == pytest.approx(log_w.mean().item())
    assert iwae_from_log_weights(log_w, 2) == pytest.approx((math.log(2.0) + math.log(4.0)) / 2)
    assert iwae_from_log_weights(log_w, 4) == pytest.approx(math.log(3.0))
    with pytest.raises(ValueError):
        iwae_from_log_weights(log_w, 5)


def test_on_a_trained_vae_the_mean_log_weight_is_the_elbo(trained_vae, mnist):
    """The bounds against the true log p(x) are checked on a VAE small enough to integrate (test_references.py)."""
    x = mnist.x_test[:200]
    log_w = log_importance_weights(trained_vae, x, 50, rng=torch.Generator().manual_seed(0))
    elbo = iwae_from_log_weights(log_w, 1)
    # the ELBO of the weights is the usual -negative_elbo, up to Monte Carlo noise
    torch.manual_seed(0)
    with torch.no_grad():
        assert abs(elbo + negative_elbo(x, *trained_vae(x)).mean().item()) < 3.0


def test_active_units_see_a_collapsed_unit(trained_vae, mnist):
    assert latent_activity(trained_vae, mnist.x_test).shape == (10,)

    class HalfDead(torch.nn.Module):  # a unit whose posterior mean never moves is inactive
        def __init__(self):
            super().__init__()
            self.unused = torch.nn.Parameter(torch.zeros(1))

        def encode(self, x):
            return torch.stack([x.flatten(1).mean(1) * 10, torch.zeros(len(x))], 1), torch.zeros(len(x), 2)

    assert active_units(HalfDead(), mnist.x_test) == 1


# ---------------------------------------------------------------------------------------------- CVAE
def test_cvae_samples_are_recognised_as_their_label(trained_cvae, mnist):
    judge, _ = load_digit_classifier(mnist)
    assert accuracy(judge, mnist.x_test, mnist.y_test) > 0.9  # the judge itself is trustworthy
    labels = torch.arange(10).repeat_interleave(30)
    samples = trained_cvae.sample(labels, rng=torch.Generator().manual_seed(0)).reshape(-1, 1, 28, 28)
    assert accuracy(judge, samples, labels) >= 0.85
    assert accuracy(judge, samples, (labels + 1) % 10) < 0.1  # and not some other digit


def test_cli_trains_and_samples_a_cvae(tmp_path, capsys):
    ckpt = tmp_path / "c.pt"
    assert main(["train", "cvae", "--data", "mnist", "--steps", "30", "--out", str(ckpt)]) == 0
    record = load_checkpoint(ckpt)
    assert record["model"] == "cvae" and record["config"]["latent_dim"] == 2
    out = tmp_path / "s.npy"
    assert main(["sample", str(ckpt), "-n", "8", "--label", "3", "--out", str(out)]) == 0
    samples = np.load(out)
    assert samples.shape == (8, 1, 28, 28) and samples.min() >= 0 and samples.max() <= 1
    assert main(["sample", str(ckpt), "-n", "2", "--label", "10", "--out", str(out)]) == 2
    assert "--label must be between 0 and 9" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ widgets
def test_explorers_switch_pictures_by_jslink():
    import ipywidgets as widgets

    assert digit_to_png(torch.zeros(784))[:8] == b"\x89PNG\r\n\x1a\n"
    pngs = [[digit_to_png(torch.full((784,), (3 * k + j) / 30)) for j in range(3)] for k in range(10)]
    label = widgets.ToggleButtons(options=[str(k) for k in range(10)])
    box = image_explorer(pngs, [label, widgets.SelectionSlider(options=["a", "b", "c"])])
    label, _, tree = box.children
    assert len(label.options) == 10 and len(tree.children) == 10


def test_image_explorer_rejects_a_control_that_does_not_fit():
    import ipywidgets as widgets

    png = digit_to_png(torch.zeros(784))
    with pytest.raises(ValueError, match="options"):
        image_explorer([[png, png]], [widgets.SelectionSlider(options=["a", "b"]), widgets.SelectionSlider(options=["c", "d"])])


# ------------------------------------------------------------------------------------------ plotting
def test_latent_plots_put_codes_and_digits_in_latent_units():
    import matplotlib.pyplot as plt

    from genmodels.plotting import plot_latent_grid, plot_latent_scatter

    seen = []

    def decode(z):  # record the codes asked for; a digit whose brightness is z_2
        seen.append(z)
        return torch.sigmoid(z[:, 1:2]).expand(-1, 784)

    fig = plot_latent_grid(decode, lim=2.0, num_per_side=5)
    codes = seen[0]
    assert codes.shape == (25, 2) and codes[0].tolist() == [-2.0, 2.0] and codes[-1].tolist() == [2.0, -2.0]
    image = fig.axes[0].images[0]
    assert image.get_extent() == [-2.5, 2.5, -2.5, 2.5] and image.get_array().shape == (140, 140)
    fig = plot_latent_scatter(torch.randn(50, 2), torch.arange(50) % 10)
    assert len(fig.axes[0].collections) == 10 and len(fig.axes[0].get_legend().texts) == 10
    plt.close("all")
