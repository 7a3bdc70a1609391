r"""Nearest-neighbour judges of generated samples (chapter 4): fidelity and diversity apart, and memorization.

A Fréchet distance mixes two failures into one number: samples that do not look real (low **fidelity**) and
samples that miss part of the data (low **diversity**). Improved precision and recall
(Kynkäänniemi et al., 2019) measure them separately, with k-nearest-neighbour balls in a feature space:

* the **manifold** of a set of points is the union of the balls around each point whose radius is the
  distance to its k-th nearest neighbour in the same set;
* **precision** = share of generated points inside the manifold of the real points (do samples look real?);
* **recall** = share of real points inside the manifold of the generated points (is all of the data drawn?).

:func:`memorization` asks another question: is a sample closer to a training image than fresh real images
are? A generator that copies its training set scores perfectly on everything above.

Re-exported by :mod:`genmodels.metrics`; the imports, here as there, are tensors in, numbers out.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["PrecisionRecall", "knn_radii", "manifold_coverage", "precision_recall", "Memorization", "memorization"]

_CHUNK = 1024  # rows of a distance matrix computed at once: (1024, M) floats, not (N, M)


def _flat(x: torch.Tensor, name: str) -> torch.Tensor:
    if x.dim() < 2 or len(x) == 0:
        raise ValueError(f"{name} must be a non-empty batch of points (N, ...), got shape {tuple(x.shape)}")
    return x.detach().reshape(len(x), -1).double().cpu()


def _distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Exact Euclidean distances (N, M), computed without the ||a||^2 - 2ab + ||b||^2 shortcut (0 for copies)."""
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")


def knn_radii(points: torch.Tensor, k: int = 3) -> torch.Tensor:
    """The distance of each point (N, F) to its k-th nearest *other* point of the same set: (N,)."""
    x = _flat(points, "points")
    if not 1 <= k < len(x):
        raise ValueError(f"k must be between 1 and the number of points - 1 ({len(x) - 1}), got {k}")
    # the k+1-th smallest distance of a row: its 0 to itself comes first (ties with copies count as neighbours)
    return torch.cat([_distances(x[i : i + _CHUNK], x).kthvalue(k + 1, dim=1).values for i in range(0, len(x), _CHUNK)])


def manifold_coverage(queries: torch.Tensor, support: torch.Tensor, k: int = 3) -> torch.Tensor:
    """For each query (N, F): is it inside a k-NN ball of ``support`` (M, F), i.e. ||q - s_j|| <= r_k(s_j) for some j? (N,) bool."""
    q, s = _flat(queries, "queries"), _flat(support, "support")
    if q.shape[1] != s.shape[1]:
        raise ValueError(f"queries and support need the same feature size, got {q.shape[1]} and {s.shape[1]}")
    radii = knn_radii(s, k)  # (M,)
    return torch.cat([(_distances(q[i : i + _CHUNK], s) <= radii).any(dim=1) for i in range(0, len(q), _CHUNK)])


@dataclass(frozen=True)
class PrecisionRecall:
    """Result of :func:`precision_recall`: two shares in [0, 1]."""

    precision: float  # generated points inside the real manifold: fidelity
    recall: float  # real points inside the generated manifold: diversity (coverage of the data)


def precision_recall(real: torch.Tensor, generated: torch.Tensor, k: int = 3) -> PrecisionRecall:
    r"""Improved precision and recall of generated points against real points, in their feature space (chapter 4).

    ``real`` (N, F) and ``generated`` (M, F) are features (e.g. a classifier's penultimate layer) or flattened
    images. precision = mean over generated g of 1[g in manifold(real)], recall = mean over real x of
    1[x in manifold(generated)], each manifold the union of the k-NN balls of its points
    (Kynkäänniemi et al., 2019; k = 3 as in the paper). Use sets of equal size: the radii shrink as a set grows.
    """
    return PrecisionRecall(
        precision=manifold_coverage(generated, real, k).double().mean().item(),
        recall=manifold_coverage(real, generated, k).double().mean().item(),
    )


@dataclass(frozen=True)
class Memorization:
    """Result of :func:`memorization`."""

    distances: torch.Tensor  # (N,) each sample's distance to its nearest training point
    nearest: torch.Tensor  # (N,) index of that training point
    reference: torch.Tensor  # (M,) each held-out real point's distance to its nearest training point
    copy_share: float  # share of samples closer to a training point than any held-out point is
    median_ratio: float  # median sample distance / median held-out distance: about 1 = no closer than new data


def memorization(samples: torch.Tensor, train: torch.Tensor, held_out: torch.Tensor) -> Memorization:
    r"""Are generated samples (N, ...) copies of training points (T, ...)? Compared with held-out points (M, ...).

    d(s) = min_t ||s - x_t|| for each sample; d(h) the same for held-out real points h, which the model never
    saw: the distance a new draw from the data distribution has to the training set. A sample with
    d(s) < min_h d(h) is nearer to a training point than every held-out point is: a likely copy. A generator
    that draws new data has ``copy_share`` near 1 / (M + 1) and ``median_ratio`` near 1; one that copies,
    ``copy_share`` near 1 and ``median_ratio`` near 0 (chapter 4). Exact Euclidean distances.
    """
    s, t, h = _flat(samples, "samples"), _flat(train, "train"), _flat(held_out, "held_out")
    if not s.shape[1] == t.shape[1] == h.shape[1]:
        raise ValueError(f"samples, train and held_out need the same size per point, got {s.shape[1]}, {t.shape[1]}, {h.shape[1]}")

    def nearest(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        parts = [_distances(x[i : i + _CHUNK], t).min(dim=1) for i in range(0, len(x), _CHUNK)]
        return torch.cat([p.values for p in parts]), torch.cat([p.indices for p in parts])

    d_samples, index = nearest(s)
    d_held_out, _ = nearest(h)
    return Memorization(
        distances=d_samples, nearest=index, reference=d_held_out,
        copy_share=(d_samples < d_held_out.min()).double().mean().item(),
        median_ratio=(d_samples.median() / d_held_out.median()).item(),
    )
