"""Numbers that judge models: tensors in, plain numbers out, no plotting."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .knn_metrics import Memorization, PrecisionRecall, memorization, precision_recall
from .losses import bernoulli_log_likelihood, negative_elbo

__all__ = [
    "predict", "accuracy", "per_label_accuracy", "correlation", "mean_pairwise_distance", "nearest_neighbor_distance",
    # VAEs (chapter 3)
    "test_negative_elbo", "log_importance_weights", "iwae_from_log_weights", "iwae_bound", "latent_activity",
    "active_units",
    # GANs (chapters 4-5)
    "ModeCoverage", "mode_coverage", "frechet_distance", "classifier_frechet_distance",
    "PrecisionRecall", "precision_recall", "Memorization", "memorization",  # in genmodels.knn_metrics
    # anomaly detection (chapter 6)
    "bounds_per_example", "auroc",
]


@torch.no_grad()
def predict(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Logits of ``model`` on ``x``, in eval mode and in chunks: (N, C)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = torch.cat([model(x[i : i + batch_size].to(device)) for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return out


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of ``x`` that ``model`` labels as ``y``."""
    return (predict(model, x).argmax(1).cpu() == y.cpu()).float().mean().item()


def per_label_accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, num_classes: int = 10) -> list[float]:
    """Accuracy restricted to each label 0..num_classes-1 (NaN for a label with no example)."""
    hits = (predict(model, x).argmax(1).cpu() == y.cpu()).float()
    y = y.cpu()
    return [hits[y == k].mean().item() if (y == k).any() else float("nan") for k in range(num_classes)]


def correlation(a: torch.Tensor, b: torch.Tensor, rank: bool = False) -> float:
    """Pearson's correlation of two samples (N,) and (N,); ``rank=True``: Spearman's, Pearson's of the ranks."""
    if rank:
        a, b = (v.argsort().argsort().double() for v in (a, b))
    return torch.corrcoef(torch.stack([a, b]))[0, 1].item()


def mean_pairwise_distance(x: torch.Tensor) -> float:
    """Average Euclidean distance between distinct rows of ``x`` (N, ...): 0 means no diversity at all."""
    flat = x.reshape(len(x), -1).float()
    if len(flat) < 2:
        raise ValueError("need at least two samples to measure diversity")
    d = torch.cdist(flat, flat, compute_mode="donot_use_mm_for_euclid_dist")  # exact: 0 for equal rows
    return (d.sum() / (len(flat) * (len(flat) - 1))).item()


def nearest_neighbor_distance(x: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """For each row of ``x``, the Euclidean distance to its nearest row of ``reference``: (N,)."""
    a = x.reshape(len(x), -1).float()
    b = reference.reshape(len(reference), -1).float().to(a.device)
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist").min(dim=1).values  # exact: 0 for copies


@torch.no_grad()
def test_negative_elbo(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 500) -> float:
    """Mean negative ELBO of a VAE returning (logits, mu, logvar), in nats per image."""
    model.eval()
    device = next(model.parameters()).device
    total = 0.0
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size].to(device)
        total += negative_elbo(xb, *model(xb)).sum().item()
    return total / len(x)



# ------------------------------------------------------------------------ VAEs (chapter 3)
def _condition(labels: torch.Tensor | None, start: int, stop: int, device: torch.device) -> tuple:
    """The extra inputs of a conditional model's encode/decode for rows start:stop (none if unconditional)."""
    return () if labels is None else (labels[start:stop].to(device),)


@torch.no_grad()
def log_importance_weights(
    model: torch.nn.Module,
    x: torch.Tensor,
    num_samples: int,
    *,
    labels: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
    batch_size: int = 500,
    max_decodes: int = 512,
) -> torch.Tensor:
    r"""log w_k = log p(x | z_k) + log p(z_k) - log q(z_k | x), z_k ~ q(z | x): (num_samples, N) (chapter 3).

    ``model`` has ``encode(x[, y]) -> (mu, logvar)`` and ``decode(z[, y]) -> logits`` of a Bernoulli
    p(x | z); ``labels`` are given for a conditional model. E_q[w] = p(x), so the mean of the weights
    estimates p(x) and the mean of the log-weights is the ELBO. Noise is drawn on the CPU from ``rng``;
    at most ``max_decodes`` images go through the decoder at once (small chunks are faster on a CPU).
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be at least 1, got {num_samples}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    columns = []
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size].to(device)
        cond = _condition(labels, start, start + batch_size, device)
        mu, logvar = model.encode(xb, *cond)  # (B, k) each
        std = torch.exp(0.5 * logvar)
        chunk = max(1, max_decodes // len(xb))  # samples decoded at once
        rows = []
        for first in range(0, num_samples, chunk):
            s = min(chunk, num_samples - first)
            eps = torch.randn(s, *mu.shape, generator=rng).to(device)  # (s, B, k)
            z = mu + std * eps
            log_q = (-0.5 * eps.pow(2) - 0.5 * logvar - half_log_2pi).sum(-1)  # log N(z; mu, std^2), (s, B)
            log_prior = (-0.5 * z.pow(2) - half_log_2pi).sum(-1)  # log N(z; 0, I), (s, B)
            logits = model.decode(z.flatten(0, 1), *(c.repeat(s) for c in cond))  # (s * B, D), row = i * B + b
            log_lik = bernoulli_log_likelihood(logits, xb.reshape(len(xb), -1).repeat(s, 1)).view(s, len(xb))
            rows.append(log_lik + log_prior - log_q)
        columns.append(torch.cat(rows))  # (num_samples, B)
    model.train(was_training)
    return torch.cat(columns, dim=1).cpu()


def iwae_from_log_weights(log_weights: torch.Tensor, k: int) -> float:
    r"""IWAE_k = E[log (1/k) sum_{j<=k} w_j], nats per image, from log-weights (K, N) with K >= k (chapter 3).

    The K samples of each image are split into floor(K / k) independent groups of k; the bound is averaged
    over the groups and the images. k = 1 is the ELBO; IWAE_k increases with k towards log p(x).
    """
    num_samples = log_weights.shape[0]
    if not 1 <= k <= num_samples:
        raise ValueError(f"k must be between 1 and the {num_samples} samples available, got {k}")
    groups = log_weights[: num_samples // k * k].reshape(num_samples // k, k, -1)  # (G, k, N)
    return (groups.logsumexp(dim=1) - math.log(k)).mean().item()


def iwae_bound(
    model: torch.nn.Module,
    x: torch.Tensor,
    num_samples: int,
    *,
    labels: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
) -> float:
    r"""The importance-weighted bound (Burda et al., 2016) log (1/K) sum_k w_k, averaged over x: nats per image.

    ELBO = IWAE_1 <= IWAE_K <= log p(x); see :func:`log_importance_weights` (chapter 3).
    """
    log_weights = log_importance_weights(model, x, num_samples, labels=labels, rng=rng)
    return iwae_from_log_weights(log_weights, num_samples)


@torch.no_grad()
def latent_activity(
    model: torch.nn.Module, x: torch.Tensor, *, labels: torch.Tensor | None = None, batch_size: int = 1000
) -> torch.Tensor:
    r"""Var_x(E_q[z_u | x]) for every latent unit u: (latent_dim,), the variance over x of the posterior mean.

    A unit whose posterior mean does not move with the input carries no information about it (chapter 3).
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    mus = [model.encode(x[i : i + batch_size].to(device), *_condition(labels, i, i + batch_size, device))[0]
           for i in range(0, len(x), batch_size)]
    model.train(was_training)
    return torch.cat(mus).var(dim=0).cpu()


def active_units(
    model: torch.nn.Module, x: torch.Tensor, *, labels: torch.Tensor | None = None, threshold: float = 0.01
) -> int:
    """How many latent units have :func:`latent_activity` above ``threshold`` (Burda et al., 2016; chapter 3).

    Fewer active units than latent dimensions is posterior collapse: q(z_u | x) = p(z_u) for the others.
    """
    return int((latent_activity(model, x, labels=labels) > threshold).sum())


# ------------------------------------------------------------------------------ GANs (chapters 4-5)
@dataclass(frozen=True)
class ModeCoverage:
    """Result of :func:`mode_coverage`: ``num_captured`` of ``num_modes``, and the high-quality fraction."""

    num_captured: int
    num_modes: int
    high_quality: float  # fraction of samples within `threshold` standard deviations of their nearest mode
    counts: tuple[int, ...]  # high-quality samples on each mode


def mode_coverage(
    samples: torch.Tensor, modes: torch.Tensor, std: float, *, threshold: float = 3.0, min_count: int = 1
) -> ModeCoverage:
    """The VEEGAN protocol (Srivastava et al., 2017) for mixtures of Gaussians with known modes (chapter 5).

    A sample (N, D) is **high quality** when it lies within ``threshold * std`` of its nearest mode (K, D);
    a mode is **captured** when at least ``min_count`` high-quality samples land on it. The benchmark
    draws N = 2,500 samples.
    """
    x = samples.detach().reshape(len(samples), -1).double().cpu()
    m = modes.detach().double().cpu()
    distance, nearest = torch.cdist(x, m).min(dim=1)  # (N,), (N,)
    good = distance <= threshold * std
    counts = torch.bincount(nearest[good], minlength=len(m))
    return ModeCoverage(
        num_captured=int((counts >= min_count).sum()),
        num_modes=len(m),
        high_quality=good.double().mean().item(),
        counts=tuple(counts.tolist()),
    )


def _sqrtm_psd(matrix: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix, by eigen-decomposition."""
    eigvals, eigvecs = torch.linalg.eigh(matrix)
    return (eigvecs * eigvals.clamp_min(0).sqrt()) @ eigvecs.T


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    r"""Fréchet distance between Gaussians fitted to two feature sets (N, F) and (M, F) (chapter 4).

    d^2 = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a^{1/2} S_b S_a^{1/2})^{1/2}), the formula of the FID
    (Heusel et al., 2017) in whatever feature space the features come from. Computed in float64.
    """
    a, b = features_a.detach().double().cpu(), features_b.detach().double().cpu()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)  # (F, F)
    root_a = _sqrtm_psd(cov_a)
    cross = _sqrtm_psd(root_a @ cov_b @ root_a)  # (S_a^1/2 S_b S_a^1/2)^1/2, same trace as (S_a S_b)^1/2
    return ((mu_a - mu_b).pow(2).sum() + torch.trace(cov_a + cov_b - 2 * cross)).item()


@torch.no_grad()
def classifier_frechet_distance(
    classifier: torch.nn.Module, x_a: torch.Tensor, x_b: torch.Tensor, batch_size: int = 1000
) -> float:
    """:func:`frechet_distance` in the feature space of a classifier with a ``features(x)`` method.

    With the chapter-1 digit classifier as the judge (``DigitClassifier.features``, 128 numbers per image),
    this is an FID for digits. Compare it with the distance between two sets of real digits of the same
    sizes: that floor is not zero, because both are finite samples.
    """
    was_training = classifier.training
    classifier.eval()
    device = next(classifier.parameters()).device

    def features(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([classifier.features(x[i : i + batch_size].to(device)) for i in range(0, len(x), batch_size)])

    try:
        return frechet_distance(features(x_a), features(x_b))
    finally:
        classifier.train(was_training)


# ------------------------------------------------------------------ anomaly detection (chapter 6)
def bounds_per_example(log_weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The ELBO and IWAE_K of every example from its K log importance weights (K, N): two (N,) tensors.

    ELBO_i ~ (1/K) sum_k log w_ki (a K-sample estimate of the ELBO); IWAE_i = log (1/K) sum_k w_ki.
    IWAE_i >= ELBO_i for every i (Jensen), both <= log p(x_i) in expectation. Their negatives are anomaly
    scores (chapter 6); see :func:`log_importance_weights`.
    """
    if log_weights.dim() != 2 or log_weights.shape[0] < 1:
        raise ValueError(f"log_weights must be (K, N) with K >= 1 samples per example, got {tuple(log_weights.shape)}")
    num_samples = log_weights.shape[0]
    return log_weights.mean(dim=0), log_weights.logsumexp(dim=0) - math.log(num_samples)


def auroc(scores: torch.Tensor, is_anomaly: torch.Tensor) -> float:
    """Area under the ROC curve of anomaly ``scores`` (N,) (higher = more anomalous) for labels ``is_anomaly`` (N,).

    The probability that a random anomaly scores higher than a random normal example (ties count one half):
    1 is a perfect detector, 0.5 chance, 0 a perfect detector upside down (chapter 6). Computed by
    ``sklearn.metrics.roc_auc_score``.
    """
    from sklearn.metrics import roc_auc_score

    s = torch.as_tensor(scores).detach().double().cpu().reshape(-1)
    y = torch.as_tensor(is_anomaly).detach().cpu().reshape(-1)
    if len(s) != len(y):
        raise ValueError(f"need one score per label, got {len(s)} scores and {len(y)} labels")
    if not torch.isfinite(s).all():
        raise ValueError(f"{int((~torch.isfinite(s)).sum())} scores are NaN or infinite; an AUROC needs finite scores")
    y = y.bool()
    if y.all() or not y.any():
        raise ValueError("an AUROC needs both normal and anomalous examples; the labels hold only one kind")
    return float(roc_auc_score(y.numpy(), s.numpy()))
