"""Metrics of chapters 3, 4 and 10 against references computed here, independently of the package's formulas.

* ``iwae_bound`` and ``log_importance_weights`` on a VAE small enough to integrate: a 1-D latent and four binary
  pixels, whose log p(x) and ELBO are integrals on a grid of z. The ELBO <= IWAE_k <= log p(x) order is checked
  against these true values, and IWAE_k must close the gap to log p(x) as k grows.
* ``latent_activity`` against its definition, Var_x(E_q[z | x]), and ``active_units`` on units of known activity.
* ``classifier_frechet_distance`` against scipy's ``sqrtm`` on the same features, and zero for identical sets.
* ``ssim`` against the formula of Wang et al. (2004), written here with scipy's Gaussian filter.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import linalg, ndimage
from torch import nn

from genmodels.imaging import ssim
from genmodels.metrics import (
    active_units,
    classifier_frechet_distance,
    iwae_bound,
    iwae_from_log_weights,
    latent_activity,
    log_importance_weights,
)
from genmodels.models import MLPVAE, ConditionalVAE, CVAEConfig, VAEConfig


# ------------------------------------------------------------------------------- a VAE we can integrate
class TinyVAE(nn.Module):
    """z ~ N(0, 1); p(x | z) = prod_i Bernoulli(x_i; sigmoid(w_i z + b_i)) over 4 pixels; a deliberately poor
    encoder q(z | x) = N(a . x + c, 1.2^2), wider than the posterior, so that the ELBO is well below log p(x).
    (Not a unit variance: log q must use sigma = exp(logvar / 2), and with logvar = 0 any power would do.)"""

    def __init__(self):
        super().__init__()
        self.decoder = nn.Linear(1, 4)
        self.encoder = nn.Linear(4, 1)
        with torch.no_grad():
            self.decoder.weight.copy_(torch.tensor([[2.0], [-1.5], [1.0], [3.0]]))
            self.decoder.bias.copy_(torch.tensor([0.5, -0.3, 0.0, -1.0]))
            self.encoder.weight.copy_(torch.tensor([[0.4, -0.2, 0.3, 0.5]]))
            self.encoder.bias.copy_(torch.tensor([-0.4]))
        self.log_s2 = math.log(1.2**2)

    def encode(self, x):
        mu = self.encoder(x)  # (B, 1)
        return mu, torch.full_like(mu, self.log_s2)

    def decode(self, z):
        return self.decoder(z)  # (B, 4) logits


ALL_PATTERNS = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4)))  # (16, 4): every possible x


def _on_a_grid(model: TinyVAE, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(log p(x), ELBO(x)) of every row of x by quadrature over z in [-12, 12], in float64 numpy."""
    z = np.linspace(-12, 12, 48_001)
    dz = z[1] - z[0]
    w = model.decoder.weight.detach().double().numpy()[:, 0]
    b = model.decoder.bias.detach().double().numpy()
    logits = z[:, None] * w + b  # (Z, 4)
    log_sig, log_1m_sig = -np.logaddexp(0, -logits), -np.logaddexp(0, logits)
    xs = x.double().numpy()
    log_lik = xs @ log_sig.T + (1 - xs) @ log_1m_sig.T  # (N, Z): log p(x | z)
    log_prior = -0.5 * z**2 - 0.5 * math.log(2 * math.pi)
    log_joint = log_lik + log_prior
    log_px = np.logaddexp.reduce(log_joint, axis=1) + math.log(dz)
    with torch.no_grad():
        mu = model.encode(x)[0].double().numpy()  # (N, 1)
    s2 = math.exp(model.log_s2)
    log_q = -0.5 * (z - mu) ** 2 / s2 - 0.5 * math.log(2 * math.pi * s2)  # (N, Z)
    elbo = (np.exp(log_q) * (log_joint - log_q)).sum(axis=1) * dz
    return log_px, elbo


def test_the_grid_reference_is_a_normalized_likelihood():
    log_px, elbo = _on_a_grid(TinyVAE(), ALL_PATTERNS)
    assert np.logaddexp.reduce(log_px) == pytest.approx(0.0, abs=1e-9)  # sum over all 16 x of p(x) = 1
    assert (elbo < log_px - 0.1).all()  # the poor encoder leaves a real gap


def test_log_weights_average_to_the_elbo_and_iwae_closes_the_gap_to_log_px():
    model = TinyVAE()
    log_px, elbo = _on_a_grid(model, ALL_PATTERNS)
    log_w = log_importance_weights(model, ALL_PATTERNS, 20_000, rng=torch.Generator().manual_seed(0)).double()
    assert log_w.shape == (20_000, 16)
    # E_q[log w] = ELBO(x), per pattern, within 4 standard errors
    standard_error = log_w.std(0) / math.sqrt(len(log_w))
    assert ((log_w.mean(0) - torch.from_numpy(elbo)).abs() < 4 * standard_error + 1e-4).all()
    # E_q[w] = p(x): the mean weight (not only its log) estimates the likelihood
    assert np.allclose((log_w.logsumexp(0) - math.log(len(log_w))).numpy(), log_px, atol=0.03)
    mean_log_px, mean_elbo = log_px.mean(), elbo.mean()
    gaps = {k: mean_log_px - iwae_from_log_weights(log_w, k) for k in (1, 10, 100, 1000)}
    assert gaps[1] == pytest.approx(mean_log_px - mean_elbo, abs=0.01) and gaps[1] > 0.5, gaps  # about 1.1 nats
    assert all(gap > -0.01 for gap in gaps.values()), gaps  # never above log p(x) (up to Monte Carlo noise)
    assert gaps[10] < 0.2 * gaps[1] and gaps[100] < 0.01 and abs(gaps[1000]) < 0.005, gaps  # closed as k grows
    # the public function, with its own noise
    bound = iwae_bound(model, ALL_PATTERNS, 2000, rng=torch.Generator().manual_seed(1))
    assert bound == pytest.approx(mean_log_px, abs=0.01)
    one_sample = iwae_bound(model, ALL_PATTERNS.repeat(500, 1), 1, rng=torch.Generator().manual_seed(2))
    assert one_sample == pytest.approx(mean_elbo, abs=0.05)  # IWAE_1 is the ELBO


# ---------------------------------------------------------------------------------- latent activity
def test_latent_activity_is_the_variance_of_the_posterior_mean(mnist):
    torch.manual_seed(0)
    vae = MLPVAE(VAEConfig(hidden_dim=32, latent_dim=5))
    x = mnist.x_test[:300]
    with torch.no_grad():
        means = vae.encode(x)[0].double().numpy()  # E_q[z | x] for every x, (N, 5)
    expected = means.var(axis=0, ddof=1)
    assert np.allclose(latent_activity(vae, x, batch_size=64).double().numpy(), expected, rtol=1e-4)
    # a conditional encoder: each chunk must see its own labels
    cvae = ConditionalVAE(CVAEConfig(hidden_dim=32, latent_dim=3))
    y = mnist.y_test[:300]
    with torch.no_grad():
        means = cvae.encode(x, y)[0].double().numpy()
    activity = latent_activity(cvae, x, labels=y, batch_size=64).double().numpy()
    assert np.allclose(activity, means.var(axis=0, ddof=1), rtol=1e-4)


def test_active_units_count_units_of_known_activity():
    class KnownActivity(nn.Module):
        """Posterior means x_u * scale_u of standard normal data: activities scale_u^2 = 1, 0.04, 0.0025, 0."""

        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.tensor([1.0, 0.2, 0.05, 0.0]))

        def encode(self, x):
            return x[:, :4] * self.scale, torch.zeros(len(x), 4)

    x = torch.randn(20_000, 4, generator=torch.Generator().manual_seed(0))
    model = KnownActivity()
    assert active_units(model, x) == 2  # the default threshold 0.01 sits between 0.04 and 0.0025
    assert active_units(model, x, threshold=0.001) == 3
    assert active_units(model, x, threshold=0.03) == 2  # just below 0.04: the threshold is the threshold given
    assert active_units(model, x, threshold=0.5) == 1


# ---------------------------------------------------------------------------------- Fréchet distance
class _Judge(nn.Module):
    """A stand-in classifier: ``features`` is a fixed linear map of the pixels, with dropout (off in eval mode)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(784, 6)
        self.linear.weight.data.mul_(10)  # features of order 1, distances of order 10
        self.dropout = nn.Dropout(0.5)

    def features(self, x):
        return self.dropout(self.linear(x.flatten(1)))


def test_classifier_frechet_distance_matches_scipy_sqrtm(mnist):
    judge = _Judge().train()
    x_a, x_b = mnist.x_test[:250], mnist.x_train[mnist.y_train == 1][:200]
    with torch.no_grad():
        f_a, f_b = (judge.linear(x.flatten(1)).double().numpy() for x in (x_a, x_b))
    cov_a, cov_b = np.cov(f_a.T), np.cov(f_b.T)
    expected = ((f_a.mean(0) - f_b.mean(0)) ** 2).sum() + np.trace(cov_a + cov_b - 2 * linalg.sqrtm(cov_a @ cov_b).real)
    assert expected > 1.0  # all digits against the 1s: far apart
    assert classifier_frechet_distance(judge, x_a, x_b, batch_size=64) == pytest.approx(expected, rel=1e-5)
    assert judge.training  # the judge's mode is given back
    assert classifier_frechet_distance(judge, x_a, x_a, batch_size=64) == pytest.approx(0.0, abs=1e-6)


# ----------------------------------------------------------------------------------------------- SSIM
def _ssim_reference(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    """Wang et al. (2004), eq. 13 with a Gaussian window of std 1.5 (radius 5), averaged away from the border."""

    def blur(u):
        return ndimage.gaussian_filter(u, sigma=1.5, truncate=3.5, mode="reflect")

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2  # population (weighted) moments
    cov = blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s[5:-5, 5:-5].mean()


def test_ssim_follows_the_formula_of_wang_et_al(mnist):
    x = mnist.x_test[:4]
    gen = torch.Generator().manual_seed(0)
    x_hat = (x + 0.2 * torch.randn(x.shape, generator=gen)).clamp(0, 1)
    x_hat[3] = x[2]  # another digit altogether
    values = ssim(x_hat, x)
    expected = [_ssim_reference(u[0].double().numpy(), v[0].double().numpy()) for u, v in zip(x_hat, x)]
    assert np.allclose(values.numpy(), expected, atol=1e-6)
    assert values[3] < values[:3].min()
    # data_range scales the constants: images in [0, 255] with data_range=255 give the same numbers
    assert np.allclose(ssim(255 * x_hat, 255 * x, data_range=255.0).numpy(), expected, atol=1e-6)
