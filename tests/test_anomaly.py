"""Chapter 6: anomaly scores and their measure, the AUROC.

The AUROC must be 1 for a perfect score, 0 for the same score upside down and 1/2 for a constant; the
per-example bounds must match the chapter-3 averages; a one-class VAE trained for a few hundred
steps must separate its digit from the others, and (the chapter's warning) score its own digits by their amount of
ink.
"""

from __future__ import annotations

import math

import pytest
import torch

from genmodels import seed_everything
from genmodels.data import infinite_minibatches
from genmodels.losses import bernoulli_log_likelihood, vae_loss
from genmodels.metrics import auroc, bounds_per_example, iwae_from_log_weights, log_importance_weights
from genmodels.models import MLPVAE, Autoencoder, VAEConfig
from genmodels.training import fit


# ------------------------------------------------------------------------------------------------ AUROC
def test_auroc_perfect_inverted_and_constant():
    is_anomaly = torch.tensor([0, 0, 0, 1, 1], dtype=torch.bool)
    perfect = torch.tensor([0.1, 0.2, 0.3, 0.8, 0.9])
    assert auroc(perfect, is_anomaly) == 1.0
    assert auroc(-perfect, is_anomaly) == 0.0
    assert auroc(torch.zeros(5), is_anomaly) == 0.5  # every pair tied: one half each


def test_auroc_is_the_probability_that_an_anomaly_scores_higher():
    # 2 anomalies x 3 normals = 6 pairs; the anomaly wins 4, ties 1, loses 1 -> (4 + 0.5) / 6
    scores = torch.tensor([1.0, 2.0, 3.0, 2.0, 5.0])
    is_anomaly = torch.tensor([False, False, False, True, True])
    assert auroc(scores, is_anomaly) == pytest.approx(4.5 / 6)
    # on random data, equal to counting all pairs
    gen = torch.Generator().manual_seed(0)
    s, y = torch.randn(300, generator=gen), torch.rand(300, generator=gen) < 0.3
    a, n = s[y], s[~y]
    assert auroc(s, y) == pytest.approx((a[:, None] > n[None, :]).double().mean().item())


def test_auroc_accepts_integer_labels_and_rejects_bad_input():
    assert auroc([0.0, 1.0], [0, 1]) == 1.0
    with pytest.raises(ValueError, match="both normal and anomalous"):
        auroc(torch.rand(4), torch.zeros(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="one score per label"):
        auroc(torch.rand(4), torch.tensor([0, 1, 0]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        auroc(torch.tensor([0.0, float("nan")]), torch.tensor([0, 1]))


# ---------------------------------------------------------------------------------- per-example bounds
def test_bounds_per_example_by_hand():
    # two weights, 1 and 3: ELBO = (log 1 + log 3) / 2, IWAE = log((1 + 3) / 2) = log 2
    log_w = torch.log(torch.tensor([[1.0, 2.0], [3.0, 2.0]]))  # (K=2, N=2)
    elbo, iwae = bounds_per_example(log_w)
    assert torch.allclose(elbo, torch.tensor([math.log(3) / 2, math.log(2)]))
    assert torch.allclose(iwae, torch.tensor([math.log(2), math.log(2)]))


def test_bounds_per_example_agree_with_the_averages():
    log_w = torch.randn(50, 40, generator=torch.Generator().manual_seed(1)) * 3 - 100
    elbo, iwae = bounds_per_example(log_w)
    assert iwae.mean().item() == pytest.approx(iwae_from_log_weights(log_w, 50), rel=1e-6)
    assert elbo.mean().item() == pytest.approx(iwae_from_log_weights(log_w, 1), rel=1e-6)
    with pytest.raises(ValueError, match="K, N"):
        bounds_per_example(torch.randn(5))


# --------------------------------------------------------------------------------- a one-class detector
@pytest.fixture(scope="module")
def one_class_models(mnist):
    """A small VAE and autoencoder trained on the 4s only, 300 steps each."""
    config = VAEConfig(hidden_dim=128, latent_dim=8)
    x_normal = mnist.x_train[mnist.y_train == 4]
    seed_everything(0)
    vae, autoencoder = MLPVAE(config), Autoencoder(config)
    fit(vae, vae_loss, infinite_minibatches(x_normal, batch_size=64, rng=torch.Generator().manual_seed(0)),
        300, progress=False)

    def ae_loss(model, x):
        return -bernoulli_log_likelihood(model(x), x).mean()

    fit(autoencoder, ae_loss,
        infinite_minibatches(x_normal, batch_size=64, rng=torch.Generator().manual_seed(0)), 300, progress=False)
    return vae.eval(), autoencoder.eval()


def test_one_class_vae_and_autoencoder_flag_the_other_digits(one_class_models, mnist):
    vae, autoencoder = one_class_models
    is_anomaly = mnist.y_test != 4
    log_w = log_importance_weights(vae, mnist.x_test, 8, rng=torch.Generator().manual_seed(0))
    elbo, iwae = bounds_per_example(log_w)
    with torch.no_grad():
        error = (torch.sigmoid(autoencoder(mnist.x_test)) - mnist.x_test.flatten(1)).pow(2).sum(1)
    for name, score in {"-ELBO": -elbo, "-IWAE": -iwae, "AE error": error}.items():
        value = auroc(score, is_anomaly)
        assert value > 0.85, (name, value)
    # an untrained VAE is a much worse detector: the AUROC comes from training on the 4s
    seed_everything(1)
    untrained = MLPVAE(VAEConfig(hidden_dim=128, latent_dim=8)).eval()
    raw = bounds_per_example(log_importance_weights(untrained, mnist.x_test, 8,
                                                    rng=torch.Generator().manual_seed(0)))[0]
    assert auroc(-raw, is_anomaly) < auroc(-elbo, is_anomaly) - 0.1


def test_the_likelihood_follows_the_amount_of_ink(one_class_models, mnist):
    """Nalisnick et al. (2019) in miniature: among normal digits, -ELBO grows with the ink (the image's complexity)."""
    vae, _ = one_class_models
    normal = mnist.x_test[mnist.y_test == 4]
    nelbo = -bounds_per_example(log_importance_weights(vae, normal, 8, rng=torch.Generator().manual_seed(0)))[0]
    ink = normal.flatten(1).sum(dim=1)
    ranks = torch.stack([nelbo.argsort().argsort(), ink.argsort().argsort()]).double()
    assert torch.corrcoef(ranks)[0, 1] > 0.15  # Spearman's rank correlation


# ------------------------------------------------------------------ the entropy floor, the AUROC's error
def test_bernoulli_entropy_is_the_floor_of_the_grey_level_loss():
    from genmodels.anomaly import bernoulli_entropy

    assert bernoulli_entropy(torch.zeros(2, 1, 28, 28)).tolist() == [0.0, 0.0]            # binary: no floor
    half = torch.full((1, 784), 0.5)
    assert bernoulli_entropy(half).item() == pytest.approx(784 * math.log(2))              # log 2 per pixel
    x = torch.rand(3, 784, generator=torch.Generator().manual_seed(0))
    floor = bernoulli_entropy(x)
    at_x = -bernoulli_log_likelihood(torch.logit(x), x)                                     # p = x: the minimum
    assert torch.allclose(at_x, floor, rtol=1e-4)
    for shift in (-0.5, 0.3, 2.0):                                                          # any other p costs more
        assert (-bernoulli_log_likelihood(torch.logit(x) + shift, x) > floor).all()
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        bernoulli_entropy(torch.tensor([[1.5, 0.0]]))
    with pytest.raises(ValueError, match="float grey levels"):
        bernoulli_entropy(torch.tensor([[1, 0]]))


def test_auroc_standard_error_matches_the_spread_over_repeated_test_sets():
    """Hanley-McNeil is exact for exponential scores: compare with 300 test sets of each size (both terms count)."""
    from genmodels.anomaly import auroc_standard_error

    gen = torch.Generator().manual_seed(0)
    for num_anomalies, num_normals in [(450, 50), (50, 450)]:
        is_anomaly = torch.arange(num_anomalies + num_normals) >= num_normals
        values = []
        for _ in range(300):
            normal = torch.empty(num_normals).exponential_(1.0, generator=gen)
            anomaly = torch.empty(num_anomalies).exponential_(1.0, generator=gen) * 4            # true AUROC 4/5
            values.append(auroc(torch.cat([normal, anomaly]), is_anomaly))
        values = torch.tensor(values)
        predicted = auroc_standard_error(0.8, num_anomalies, num_normals)
        assert values.mean().item() == pytest.approx(0.8, abs=0.01)
        assert values.std().item() == pytest.approx(predicted, rel=0.15), (num_anomalies, num_normals)
    assert auroc_standard_error(1.0, 450, 50) == 0.0
    assert auroc_standard_error(0.8, 4500, 500) < auroc_standard_error(0.8, 450, 50) / 3          # about 1/sqrt(n)
    with pytest.raises(ValueError, match="lies in"):
        auroc_standard_error(1.2, 10, 10)


def test_fit_early_stopped_keeps_the_best_round():
    from genmodels.training import fit_early_stopped

    seed_everything(0)
    model = torch.nn.Linear(2, 1)
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    batches = iter(lambda: (x,), None)
    scripted = iter([5.0, 4.0, 3.0, 3.5, 4.0, 4.5, 1.0, 0.5])   # best after round 3, then 3 worse rounds
    snapshots = []

    def held_out_loss(m):
        snapshots.append({k: v.clone() for k, v in m.state_dict().items()})
        return next(scripted)

    history = fit_early_stopped(model, lambda m, xb: m(xb).pow(2).mean(), batches, 1000, held_out_loss,
                                check_every=10, patience=3, lr=0.1)
    assert history.steps == [10, 20, 30, 40, 50, 60]             # stopped after 3 rounds without a new best
    assert history["best_step"][-1] == 30
    assert all(torch.equal(v, snapshots[2][k]) for k, v in model.state_dict().items())
    assert not model.training
