r"""Chapter 6's additions to the scores of :mod:`genmodels.metrics`: the floor of a Bernoulli likelihood on grey
levels, and the uncertainty of an AUROC.

``bernoulli_entropy(x)`` is the summed binary entropy of an image of grey levels: the smallest value the
Bernoulli reconstruction loss -sum_i [x_i log p_i + (1 - x_i) log(1 - p_i)] can take, reached at p = x.
``auroc_standard_error`` is the standard error of an AUROC from the counts alone (Hanley and McNeil, 1982).
"""

from __future__ import annotations

import math

import torch

__all__ = ["bernoulli_entropy", "auroc_standard_error"]


def bernoulli_entropy(x: torch.Tensor) -> torch.Tensor:
    r"""H(x) = sum_i [-x_i log x_i - (1 - x_i) log(1 - x_i)] in nats, per image: (B, ...) -> (B,) (chapter 6).

    The cross-entropy of a Bernoulli decoder against grey-level targets is H(x) + sum_i KL(x_i || p_i) >= H(x):
    the entropy floor, 0 for a binary image, log 2 for every half-grey pixel. It is also the entropy of the
    binarizations of x (:func:`genmodels.data.binarize`), so no model of binarized digits can expect fewer
    nats than H(x) on them either.
    """
    x = torch.as_tensor(x)
    if not torch.is_floating_point(x):
        raise ValueError(f"bernoulli_entropy expects float grey levels in [0, 1], got dtype {x.dtype}; divide uint8 images by 255")
    if len(x) and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"bernoulli_entropy expects grey levels in [0, 1], got values in "
                         f"[{x.min().item():.3g}, {x.max().item():.3g}]; rescale first")
    flat = x.reshape(len(x), -1)
    return (torch.special.entr(flat) + torch.special.entr(1 - flat)).sum(dim=1)


def auroc_standard_error(auc: float, num_anomalies: int, num_normals: int) -> float:
    r"""Hanley and McNeil's (1982) standard error of an AUROC ``auc`` measured on the given counts (chapter 6).

    SE^2 = [A(1 - A) + (n_a - 1)(Q_1 - A^2) + (n_n - 1)(Q_2 - A^2)] / (n_a n_n), with Q_1 = A / (2 - A) and
    Q_2 = 2A^2 / (1 + A): exact for exponential score distributions, close for most others.
    """
    if not 0.0 <= auc <= 1.0:
        raise ValueError(f"an AUROC lies in [0, 1], got {auc}")
    if num_anomalies < 1 or num_normals < 1:
        raise ValueError(f"need at least one anomaly and one normal example, got {num_anomalies} and {num_normals}")
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (auc * (1 - auc) + (num_anomalies - 1) * (q1 - auc**2) + (num_normals - 1) * (q2 - auc**2))
    return math.sqrt(max(variance, 0.0) / (num_anomalies * num_normals))
