"""Improved precision/recall and the memorization check (genmodels.knn_metrics, re-exported by genmodels.metrics).

Toy cases with known answers, and the k-NN balls against an independent computation with scikit-learn and scipy.
"""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from sklearn.neighbors import NearestNeighbors

from genmodels.knn_metrics import knn_radii, manifold_coverage
from genmodels.metrics import memorization, precision_recall


def gaussian(n, seed, dim=2, shift=0.0):
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + shift


def reference_coverage(queries, support, k):
    """The same definition, computed independently: sklearn's k-NN radii, scipy's distances."""
    radii = NearestNeighbors(n_neighbors=k + 1).fit(support).kneighbors(support)[0][:, k]  # column 0: the point itself
    return (cdist(queries, support) <= radii[None, :]).any(axis=1)


def test_radii_match_sklearn():
    x = gaussian(1500, 0, dim=3)  # more rows than one chunk of the distance matrix
    expected = NearestNeighbors(n_neighbors=4).fit(x.numpy()).kneighbors(x.numpy())[0][:, 3]
    assert np.allclose(knn_radii(x, k=3).numpy(), expected, rtol=1e-10)


def test_identical_sets_have_precision_and_recall_one():
    x = gaussian(300, 1)
    result = precision_recall(x, x.clone(), k=3)
    assert result.precision == 1.0 and result.recall == 1.0


def test_disjoint_far_sets_have_precision_and_recall_zero():
    result = precision_recall(gaussian(300, 2), gaussian(300, 3, shift=100.0), k=3)
    assert result.precision == 0.0 and result.recall == 0.0


def test_generator_that_draws_one_of_two_clusters_has_full_precision_half_recall():
    cluster_a, cluster_b = gaussian(200, 4), gaussian(300, 5, shift=50.0)
    real = torch.cat([cluster_a, cluster_b])
    result = precision_recall(real, cluster_a.clone(), k=3)  # the generator draws only cluster A, exactly
    assert result.precision == 1.0
    assert result.recall == pytest.approx(200 / 500, abs=1e-12)  # the exact count: A's points, none of B's


def test_fresh_draws_covering_half_the_data_give_recall_about_one_half_as_counted_directly():
    real = gaussian(1000, 6)
    generated = gaussian(2000, 7)
    generated = generated[generated[:, 0] > 0][:1000]  # the right half-plane only
    result = precision_recall(real, generated, k=3)
    exact_recall = reference_coverage(real.numpy(), generated.numpy(), 3).mean()
    exact_precision = reference_coverage(generated.numpy(), real.numpy(), 3).mean()
    assert result.recall == pytest.approx(exact_recall, abs=1e-12)
    assert result.precision == pytest.approx(exact_precision, abs=1e-12)
    assert 0.4 < result.recall < 0.65  # half the data, plus the balls that reach across x = 0
    assert result.precision > 0.9  # every generated point lies where real data lie


def test_coverage_checks_its_inputs():
    with pytest.raises(ValueError, match="k must be between 1"):
        knn_radii(gaussian(3, 0), k=3)
    with pytest.raises(ValueError, match="same feature size"):
        manifold_coverage(gaussian(5, 0, dim=2), gaussian(5, 1, dim=3))


def test_copies_of_training_points_are_flagged():
    train, held_out = gaussian(1000, 8, dim=5), gaussian(200, 9, dim=5)
    picks = torch.randperm(1000, generator=torch.Generator().manual_seed(0))[:100]
    result = memorization(train[picks].clone(), train, held_out)
    assert result.copy_share == 1.0 and result.median_ratio == 0.0
    assert torch.equal(result.nearest, picks)
    assert (result.distances == 0).all() and (result.reference > 0).all()


def test_fresh_draws_from_the_same_distribution_are_not_flagged():
    train, held_out, fresh = gaussian(1000, 10, dim=5), gaussian(200, 11, dim=5), gaussian(500, 12, dim=5)
    result = memorization(fresh, train, held_out)
    assert result.copy_share < 0.02  # about 1 / (200 + 1) for exchangeable draws
    assert 0.85 < result.median_ratio < 1.15
    # a generator that copies half its samples and draws the other half fresh is caught in proportion
    mixed = torch.cat([train[:250], fresh[:250]])
    assert memorization(mixed, train, held_out).copy_share == pytest.approx(0.5, abs=0.02)
