"""genmodels.models: the class-conditional Gaussian (PPCA per class), the MLP VAE and the digit classifier."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import MultivariateNormal
from torch.nn import functional as F

from genmodels.models import (
    MLPVAE,
    ClassConditionalGaussian,
    ClassifierConfig,
    DigitClassifier,
    GaussianConfig,
    VAEConfig,
    classifier_loss,
    reparameterize,
)

D, K = 6, 2  # data and latent dimension of the synthetic PPCA


def _true_ppca(gen: torch.Generator) -> dict:
    """Two classes with known mu, W, sigma^2 and unequal priors."""
    W = torch.randn(2, D, K, generator=gen, dtype=torch.float64)
    mu = torch.stack([torch.zeros(D, dtype=torch.float64), torch.full((D,), 0.6, dtype=torch.float64)])
    sigma2 = torch.tensor([0.05, 0.2], dtype=torch.float64)
    cov = W @ W.transpose(1, 2) + sigma2[:, None, None] * torch.eye(D, dtype=torch.float64)
    return {"W": W, "mu": mu, "sigma2": sigma2, "cov": cov, "prior": torch.tensor([0.4, 0.6], dtype=torch.float64)}


def _draw(truth: dict, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """x = mu_y + W_y z + sigma_y eps, exactly the generative story of the model."""
    y = torch.multinomial(truth["prior"], n, replacement=True, generator=gen)
    z = torch.randn(n, K, generator=gen, dtype=torch.float64)
    eps = torch.randn(n, D, generator=gen, dtype=torch.float64)
    x = truth["mu"][y] + torch.einsum("ndk,nk->nd", truth["W"][y], z) + truth["sigma2"][y].sqrt()[:, None] * eps
    return x.float(), y


@pytest.fixture(scope="module")
def ppca():
    gen = torch.Generator().manual_seed(0)
    truth = _true_ppca(gen)
    x, y = _draw(truth, 100_000, gen)
    model = ClassConditionalGaussian(GaussianConfig(data_dim=D, latent_dim=K, num_classes=2)).fit(x, y)
    return truth, model, (x, y)


def _model_cov(model: ClassConditionalGaussian, k: int) -> torch.Tensor:
    W = model.W[k].double()
    return W @ W.T + model.sigma2[k].double() * torch.eye(W.shape[0], dtype=torch.float64)


# ------------------------------------------------------------------------------- class-conditional Gaussian
def test_ppca_fit_recovers_the_parameters(ppca):
    truth, model, (x, y) = ppca
    assert model.mu.shape == (2, D) and model.W.shape == (2, D, K) and model.sigma2.shape == (2,)
    for k in range(2):
        n_k = (y == k).sum().item()
        standard_error = (truth["cov"][k].diagonal() / n_k).sqrt()
        assert ((model.mu[k].double() - truth["mu"][k]).abs() < 5 * standard_error).all(), k
        assert torch.allclose(_model_cov(model, k), truth["cov"][k], atol=0.05 * truth["cov"][k].abs().max().item())
        assert model.sigma2[k].item() == pytest.approx(truth["sigma2"][k].item(), rel=0.05)
    # W is identified up to a rotation of z: its column space is that of the true W
    for k in range(2):
        q_true, _ = torch.linalg.qr(truth["W"][k])
        W = model.W[k].double()
        assert torch.allclose(q_true @ (q_true.T @ W), W, atol=0.05 * W.abs().max().item())
    assert torch.allclose(model.log_prior.exp().double(), truth["prior"], atol=0.01)


def test_ppca_log_prob_equals_the_full_covariance_gaussian(ppca):
    truth, model, (x, _) = ppca
    points = x[:50]
    log_p = model.log_prob(points)  # (N, C)
    assert log_p.shape == (50, 2)
    for k in range(2):
        reference = MultivariateNormal(model.mu[k].double(), _model_cov(model, k)).log_prob(points.double())
        assert torch.allclose(log_p[:, k].double(), reference, atol=1e-3, rtol=1e-5)
    # images are flattened: (N, 1, 2, 3) is the same as (N, 6)
    assert torch.allclose(model.log_prob(points.reshape(50, 1, 2, 3)), log_p)


def test_ppca_classify_is_bayes_rule(ppca):
    truth, model, _ = ppca
    x, y = _draw(truth, 20_000, torch.Generator().manual_seed(1))
    log_post = model.classify(x)
    assert log_post.shape == (20_000, 2)
    assert torch.allclose(log_post.exp().sum(1), torch.ones(20_000), atol=1e-5)
    # Bayes' rule with the fitted parameters, through torch.distributions: p(y | x) = p(x | y) p(y) / sum_k ...
    log_joint = torch.stack(
        [MultivariateNormal(model.mu[k].double(), _model_cov(model, k)).log_prob(x.double())
         + model.log_prior[k].double() for k in range(2)], dim=1)
    expected = log_joint - log_joint.logsumexp(dim=1, keepdim=True)
    assert torch.allclose(log_post.double(), expected, atol=1e-3)
    # the best any classifier can do: Bayes' rule with the true parameters
    true_log_joint = torch.stack(
        [MultivariateNormal(truth["mu"][k], truth["cov"][k]).log_prob(x.double()) + truth["prior"][k].log()
         for k in range(2)], dim=1)
    bayes = (true_log_joint.argmax(1) == y).float().mean().item()
    fitted = (log_post.argmax(1) == y).float().mean().item()
    assert bayes > 0.9  # the classes are well separated ...
    assert fitted > bayes - 0.005  # ... and the fitted model is as good as the truth


def test_ppca_samples_have_the_model_covariance(ppca):
    _, model, _ = ppca
    gen = torch.Generator().manual_seed(2)
    labels = torch.zeros(200_000, dtype=torch.long)
    noisy = model.sample(labels, pixel_noise=True, rng=gen)
    assert noisy.shape == (200_000, D)
    cov = _model_cov(model, 0)
    assert torch.allclose(noisy.double().mean(0), model.mu[0].double(), atol=0.02)
    assert torch.allclose(torch.cov(noisy.double().T), cov, atol=0.03 * cov.abs().max().item())
    # without pixel noise a sample is the decoded mean mu + W z: covariance W W^T, rank k
    clean = model.sample(labels, rng=gen)
    W = model.W[0].double()
    assert torch.allclose(torch.cov(clean.double().T), W @ W.T, atol=0.03 * cov.abs().max().item())
    singular = torch.linalg.svdvals(clean[:100].double() - model.mu[0].double())
    assert (singular[K:] < 1e-4 * singular[0]).all() and singular[K - 1] > 0.1 * singular[0]
    # the same generator seed gives the same samples
    again = model.sample(labels[:10], rng=torch.Generator().manual_seed(3))
    assert torch.equal(again, model.sample(labels[:10], rng=torch.Generator().manual_seed(3)))


def test_ppca_decode_and_distribution(ppca):
    _, model, _ = ppca
    z = torch.randn(4, K)
    y = torch.tensor([0, 1, 1, 0])
    x = model.decode(z, y)
    assert x.shape == (4, D)
    assert torch.allclose(x[1], model.mu[1] + model.W[1] @ z[1], atol=1e-6)
    dist = model.distribution(y)
    assert dist.batch_shape == (4,) and dist.event_shape == (D,)
    assert torch.allclose(dist.covariance_matrix[2].double(), _model_cov(model, 1), atol=1e-5)


def test_gaussian_on_mnist_classifies_digits(mnist):
    model = ClassConditionalGaussian(GaussianConfig(latent_dim=16)).fit(mnist.x_train, mnist.y_train)
    predicted = model.classify(mnist.x_test).argmax(1)
    assert (predicted == mnist.y_test).float().mean().item() > 0.95
    assert (model.sigma2 >= model.config.min_variance).all()
    counts = torch.bincount(mnist.y_train, minlength=10).float()
    assert torch.allclose(model.log_prior.exp(), counts / counts.sum())


@pytest.mark.parametrize("latent_dim", [0, -1, 6, 7])
def test_gaussian_latent_dim_out_of_range(latent_dim):
    with pytest.raises(ValueError, match="latent_dim"):
        ClassConditionalGaussian(GaussianConfig(data_dim=6, latent_dim=latent_dim, num_classes=2))


def test_gaussian_fit_rejects_bad_data():
    model = ClassConditionalGaussian(GaussianConfig(data_dim=6, latent_dim=2, num_classes=2))
    x = torch.randn(10, 6)
    with pytest.raises(ValueError, match="at least 2 examples"):
        model.fit(x, torch.tensor([0] * 9 + [1]))  # class 1 has one example
    with pytest.raises(ValueError, match="at least 2 examples"):
        model.fit(x, torch.zeros(10, dtype=torch.long))  # class 1 has none
    with pytest.raises(ValueError, match="at least 2 examples"):
        model.fit(x, torch.tensor([0] * 5 + [1] * 3 + [2] * 2))  # a label outside 0..1
    with pytest.raises(ValueError, match="data_dim=6"):
        model.fit(torch.randn(10, 5), torch.tensor([0, 1] * 5))


def test_gaussian_single_class_without_labels():
    x = torch.randn(500, 3) * torch.tensor([3.0, 1.0, 0.1]) + torch.tensor([1.0, 2.0, 3.0])
    model = ClassConditionalGaussian(GaussianConfig(data_dim=3, latent_dim=1, num_classes=1)).fit(x)
    assert torch.allclose(model.mu[0], x.mean(0), atol=1e-5)
    assert model.log_prior.item() == pytest.approx(0.0)
    assert model.W[0].abs().argmax().item() == 0  # the principal axis is the widest one


# ------------------------------------------------------------------------------------------------ VAE
def test_vae_shapes_and_samples():
    torch.manual_seed(0)
    model = MLPVAE()
    x = torch.rand(5, 1, 28, 28)
    logits, mu, logvar = model(x)
    assert logits.shape == (5, 784) and mu.shape == (5, 20) and logvar.shape == (5, 20)
    assert torch.equal(model.encode(x)[0], mu)
    samples = model.sample(16, rng=torch.Generator().manual_seed(0))
    assert samples.shape == (16, 784)
    assert samples.min().item() >= 0.0 and samples.max().item() <= 1.0
    assert not samples.requires_grad
    assert torch.equal(samples, model.sample(16, rng=torch.Generator().manual_seed(0)))
    small = MLPVAE(VAEConfig(data_dim=10, hidden_dim=7, latent_dim=3))
    assert [t.shape for t in small(torch.rand(2, 10))] == [(2, 10), (2, 3), (2, 3)]


def test_reparameterize_has_the_right_moments_and_gradients():
    torch.manual_seed(0)
    n = 100_000
    mu = torch.tensor([1.0, -2.0, 0.5]).repeat(n, 1).requires_grad_()
    sigma = torch.tensor([1.0, 2.0, 0.5])
    logvar = (2 * sigma.log()).repeat(n, 1).requires_grad_()
    z = reparameterize(mu, logvar)
    assert z.shape == (n, 3)
    mean_se, std_se = sigma / math.sqrt(n), sigma / math.sqrt(2 * n)
    assert ((z.detach().mean(0) - mu[0].detach()).abs() < 4 * mean_se).all()
    assert ((z.detach().std(0) - sigma).abs() < 4 * std_se).all()
    z.sum().backward()
    assert torch.equal(mu.grad, torch.ones_like(mu))
    # dz/dlogvar = 1/2 * sigma * eps = 1/2 * (z - mu)
    assert torch.allclose(logvar.grad, 0.5 * (z.detach() - mu.detach()), atol=1e-5)


# ----------------------------------------------------------------------------------------- classifier
def test_digit_classifier_shapes_and_loss():
    torch.manual_seed(0)
    model = DigitClassifier().eval()
    x = torch.rand(4, 1, 28, 28)
    features = model.features(x)
    logits = model(x)
    assert features.shape == (4, 128) and (features >= 0).all()
    assert logits.shape == (4, 10)
    assert torch.allclose(logits, model.head(features))
    y = torch.tensor([0, 1, 2, 3])
    out = classifier_loss(model, x, y)
    assert torch.allclose(out["loss"], F.cross_entropy(logits, y))
    assert out["accuracy"].item() == (logits.argmax(1) == y).float().mean().item()
    custom = DigitClassifier(ClassifierConfig(num_classes=3, channels=(4, 8), feature_dim=16)).eval()
    assert custom.features(x).shape == (4, 16) and custom(x).shape == (4, 3)


def test_models_import_nothing_from_the_training_side():
    """Models describe networks: no module of genmodels.models imports a trainer, a step or a recipe."""
    import ast
    from pathlib import Path

    import genmodels.models

    training_side = {"training", "gan_training", "paired_training", "recipes", "checkpoints", "registry"}
    for path in Path(genmodels.models.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 2:
                assert (node.module or "").split(".")[0] not in training_side, (path.name, node.module)
