r"""Motion forecasting of chapter 7: synthetic junction trajectories, forecasting metrics, a baseline.

* :func:`sample_junction`: agents drive up to a junction and turn left, go straight or turn right. The
  observed past never shows which: the same past has three possible futures (a multimodal target).
* :func:`displacement_errors`, :func:`min_ade`, :func:`min_fde`: the metrics of trajectory forecasting,
  "best of K" (Gupta et al., 2018): a model that proposes K futures is judged by the one closest to the truth.
* :func:`constant_velocity`: the baseline every forecaster must beat (Schöller et al., 2020), and
  :func:`sampled_constant_velocity`, its K-sample version with heading and speed noise.

Shapes: a trajectory is (T, 2) positions in metres, one every ``DT`` seconds; a batch of agents (N, T, 2);
K forecasts per agent (N, K, T, 2). The standard protocol observes 8 steps (3.2 s) and predicts 12 (4.8 s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch

__all__ = [
    "DT",
    "NUM_PAST",
    "NUM_FUTURE",
    "BRANCHES",
    "JunctionTrajectories",
    "sample_junction",
    "branch_path",
    "constant_velocity",
    "sampled_constant_velocity",
    "displacement_errors",
    "min_ade",
    "min_fde",
    "nearest_branch",
]

DT = 0.4  # seconds between two positions (2.5 Hz, as in the ETH/UCY pedestrian benchmarks)
NUM_PAST = 8  # observed positions: 3.2 s
NUM_FUTURE = 12  # positions to predict: 4.8 s
BRANCHES = ("left", "straight", "right")  # branch index 0, 1, 2


@dataclass
class JunctionTrajectories:
    """Agents at the junction, ``N`` of them.

    ``past`` (N, num_past, 2) and ``future`` (N, num_future, 2): noisy positions in metres, the junction's
    entry line at y = 0, agents driving up the y axis. ``branch`` (N,): 0 left, 1 straight, 2 right.
    ``speed`` (N,): the speed at the last observed step, metres per second. ``branch_futures``
    (N, 3, num_future, 2): where this agent would be, without noise, had it taken each of the three branches
    (the truth a forecaster should cover; ``branch_futures[i, branch[i]]`` is ``future[i]`` without noise).
    ``lane`` (N,) and ``radius`` (N, 3): the agent's lane offset x0 and turn radii (left, unused, right),
    which fix its three routes through the junction (:func:`branch_path`). ``odds`` (N, 3): the probabilities
    the branch was drawn with, given the agent's lane offset (the truth a forecaster's odds are checked against).
    """

    past: torch.Tensor
    future: torch.Tensor
    branch: torch.Tensor
    speed: torch.Tensor
    branch_futures: torch.Tensor
    lane: torch.Tensor
    radius: torch.Tensor
    odds: torch.Tensor

    def __len__(self) -> int:
        return len(self.past)

    def to(self, device: torch.device | str) -> JunctionTrajectories:
        """The same agents with every tensor on ``device``."""
        return JunctionTrajectories(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    def trajectories(self) -> torch.Tensor:
        """Past and future in one tensor: (N, num_past + num_future, 2)."""
        return torch.cat([self.past, self.future], dim=1)


def branch_path(s: torch.Tensor, branch: torch.Tensor, x0: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    r"""Position (..., 2) at arc length ``s`` (metres past the entry line y = 0) along a branch of the junction.

    Before the entry (s < 0) every branch is the approach lane x = x0. Straight: (x0, s). A turn is a quarter
    circle of ``radius`` r around (x0 -+ r, 0), then a straight exit: left
    (x0 - r + r cos(s / r), r sin(s / r)), right mirrored. ``branch``, ``x0`` and ``radius`` broadcast
    against ``s``.
    """
    s, branch, x0, radius = torch.broadcast_tensors(s, branch, x0, radius)
    theta = (s / radius).clamp(0, math.pi / 2)  # angle turned so far
    beyond = (s - radius * math.pi / 2).clamp_min(0)  # metres driven on the exit road
    side = torch.where(branch == 0, -1.0, 1.0)  # left turns go to -x, right turns to +x
    turn_x = x0 + side * (radius - radius * torch.cos(theta) + beyond)
    turn_y = radius * torch.sin(theta)
    turning = (branch != 1) & (s > 0)
    x = torch.where(turning, turn_x, x0)
    y = torch.where(turning, turn_y, s)
    return torch.stack([x, y], dim=-1)


def _uniform(n: int, low: float, high: float, rng: torch.Generator | None) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=rng, dtype=torch.float64)


def _check_range(name: str, value: tuple[float, float], minimum: float) -> None:
    low, high = value
    if not minimum <= low <= high:
        raise ValueError(f"{name} must be a range (low, high) with {minimum} <= low <= high, got {value}")


def sample_junction(
    n: int,
    rng: torch.Generator | None = None,
    *,
    num_past: int = NUM_PAST,
    num_future: int = NUM_FUTURE,
    probs: tuple[float, float, float] = (0.3, 0.4, 0.3),
    speed: tuple[float, float] = (4.0, 7.0),
    accel: tuple[float, float] = (-0.3, 0.3),
    distance: tuple[float, float] = (0.0, 6.0),
    radius_left: tuple[float, float] = (9.0, 11.0),
    radius_right: tuple[float, float] = (5.0, 7.0),
    lane_std: float = 0.3,
    lane_bias: float = 0.0,
    noise_std: float = 0.1,
) -> JunctionTrajectories:
    r"""``n`` agents approaching a junction, each turning left, going straight or turning right (chapter 7).

    Per agent, drawn from ``rng`` (all on the CPU, in float64, returned as float32):

    * the lane offset x0 ~ N(0, lane_std^2), then the branch, with probabilities
      softmax(log probs + lane_bias * x0 * (-1, 0, 1)): a car that keeps to the left of its lane (x0 < 0) is
      more likely to turn left. ``lane_bias = 0`` (per metre; the default): the branch is independent of
      everything else, with probabilities ``probs``;
    * the speed v at the last observed step, uniform in ``speed`` (m/s), and a constant acceleration a,
      uniform in ``accel`` (m/s^2): the arc length driven is s(t) = s_7 + v (t - t_7) + a (t - t_7)^2 / 2;
    * the distance from the last observed position to the entry line, uniform in ``distance`` (m): the
      whole past lies on the approach road, so **the past says nothing about the branch** beyond its lane
      offset (and nothing at all when ``lane_bias = 0``);
    * the turn radius, uniform in ``radius_left`` (wide left turns) or ``radius_right`` (tight right turns,
      as in right-hand traffic);
    * independent N(0, noise_std^2) noise on every observed and future coordinate (a sensor's error).

    Positions follow :func:`branch_path`; ``t`` runs over ``num_past + num_future`` steps of ``DT`` seconds.
    """
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"number of agents must be a whole number >= 0, got {n!r}")
    if num_past < 2 or num_future < 1:
        raise ValueError(f"need num_past >= 2 (a velocity) and num_future >= 1, got {num_past} and {num_future}")
    p = torch.as_tensor(probs, dtype=torch.float64)
    if p.shape != (3,) or (p < 0).any() or not math.isclose(p.sum().item(), 1.0, abs_tol=1e-6):
        raise ValueError(f"probs must be three non-negative numbers (left, straight, right) summing to 1, got {probs}")
    _check_range("speed", speed, 0.0)
    _check_range("distance", distance, 0.0)
    _check_range("radius_left", radius_left, 1e-3)
    _check_range("radius_right", radius_right, 1e-3)
    _check_range("accel", accel, -math.inf)
    if noise_std < 0 or lane_std < 0:
        raise ValueError(f"noise_std and lane_std must be >= 0, got {noise_std} and {lane_std}")

    x0 = lane_std * torch.randn(n, generator=rng, dtype=torch.float64)
    side = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
    odds = torch.softmax(p.log()[None] + lane_bias * x0[:, None] * side, dim=1)  # (N, 3); log 0 = -inf is fine
    branch = torch.multinomial(odds, 1, generator=rng)[:, 0] if n else torch.zeros(0, dtype=torch.long)
    v = _uniform(n, *speed, rng)
    a = _uniform(n, *accel, rng)
    d = _uniform(n, *distance, rng)
    r_left, r_right = _uniform(n, *radius_left, rng), _uniform(n, *radius_right, rng)
    radius = torch.stack([r_left, torch.ones_like(r_left), r_right], dim=1)  # (N, 3); straight has none
    noise = noise_std * torch.randn(n, num_past + num_future, 2, generator=rng, dtype=torch.float64)

    tau = (torch.arange(num_past + num_future, dtype=torch.float64) - (num_past - 1)) * DT  # seconds from t_7
    s = -d[:, None] + v[:, None] * tau + 0.5 * a[:, None] * tau**2  # (N, T) arc length; s = -d at the last seen
    s = torch.cummax(s, dim=1).values  # a braking agent stops, it never reverses
    every = torch.arange(3)[None, :, None]  # (1, 3, 1): the three branches side by side
    paths = branch_path(s[:, None, :], every, x0[:, None, None], radius[:, :, None])  # (N, 3, T, 2)
    clean = paths[torch.arange(n), branch]  # (N, T, 2) the branch taken
    noisy = clean + noise
    return JunctionTrajectories(
        past=noisy[:, :num_past].float(),
        future=noisy[:, num_past:].float(),
        branch=branch,
        speed=v.float(),
        branch_futures=paths[:, :, num_past:].float(),
        lane=x0.float(),
        radius=radius.float(),
        odds=odds.float(),
    )


# ----------------------------------------------------------------------------------------- baseline
def constant_velocity(past: torch.Tensor, num_future: int = NUM_FUTURE, window: int = 1) -> torch.Tensor:
    r"""Constant-velocity forecast: keep the last velocity, (N, num_past, 2) -> (N, num_future, 2).

    v = (x_T - x_{T - window}) / window, the mean displacement per step over the last ``window`` steps;
    x_{T + h} = x_T + h v for h = 1 .. num_future. ``window=1`` is Schöller et al.'s (2020) baseline; a longer
    window averages out sensor noise but reacts late to a change of speed.
    """
    if past.dim() != 3 or past.shape[-1] != 2:
        raise ValueError(f"past must be (N, num_past, 2) positions, got shape {tuple(past.shape)}")
    if not 1 <= window < past.shape[1]:
        raise ValueError(f"window must be between 1 and num_past - 1 = {past.shape[1] - 1}, got {window}")
    if num_future < 1:
        raise ValueError(f"num_future must be at least 1, got {num_future}")
    last = past[:, -1]  # (N, 2)
    velocity = (last - past[:, -1 - window]) / window  # (N, 2) metres per step
    h = torch.arange(1, num_future + 1, dtype=past.dtype, device=past.device)  # (T,)
    return last[:, None, :] + h[None, :, None] * velocity[:, None, :]  # (N, T, 2)


def sampled_constant_velocity(
    past: torch.Tensor,
    num_samples: int,
    heading_std: float,
    speed_std: float,
    num_future: int = NUM_FUTURE,
    window: int = 1,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    r"""K straight-line forecasts per agent, (N, num_past, 2) -> (N, num_samples, num_future, 2).

    The constant-velocity forecast with its velocity turned by an angle ~ N(0, heading_std^2) (radians) and
    scaled by a factor ~ N(1, speed_std^2), drawn for every sample (Schöller et al., 2020, sample the heading;
    the speed factor is our addition, for cars that brake or accelerate).
    """
    if num_samples < 1 or heading_std < 0 or speed_std < 0:
        raise ValueError(f"need num_samples >= 1 and stds >= 0, got {num_samples}, {heading_std}, {speed_std}")
    base = constant_velocity(past, num_future, window)  # (N, T, 2)
    last = past[:, -1]
    step = base[:, 0] - last  # (N, 2) velocity per step
    angle = heading_std * torch.randn(len(past), num_samples, generator=rng).to(past.device)  # (N, K)
    factor = 1 + speed_std * torch.randn(len(past), num_samples, generator=rng).to(past.device)
    cos, sin = torch.cos(angle), torch.sin(angle)
    vx = factor * (cos * step[:, None, 0] - sin * step[:, None, 1])  # (N, K) rotated, scaled velocity
    vy = factor * (sin * step[:, None, 0] + cos * step[:, None, 1])
    h = torch.arange(1, num_future + 1, dtype=past.dtype, device=past.device)  # (T,)
    velocity = torch.stack([vx, vy], dim=-1)  # (N, K, 2)
    return last[:, None, None, :] + h[None, None, :, None] * velocity[:, :, None, :]


# ------------------------------------------------------------------------------------------ metrics
def _as_samples(pred: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
    """Forecasts (N, T, 2) or (N, K, T, 2) as (N, K, T, 2), checked against the true future (N, T, 2)."""
    if future.dim() != 3 or future.shape[-1] != 2:
        raise ValueError(f"future must be (N, T, 2) positions, got shape {tuple(future.shape)}")
    if pred.dim() == 3:
        pred = pred[:, None]
    if pred.dim() != 4 or pred.shape[0] != future.shape[0] or pred.shape[2:] != future.shape[1:]:
        raise ValueError(
            f"forecasts must be (N, T, 2) or (N, K, T, 2) with N, T = {future.shape[0]}, {future.shape[1]} "
            f"of the true future; got shape {tuple(pred.shape)}"
        )
    return pred


def displacement_errors(pred: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
    """Euclidean distance to the truth at every step: forecasts (N, K, T, 2) or (N, T, 2) -> (N, K, T)."""
    pred = _as_samples(pred, future)
    return (pred - future[:, None]).norm(dim=-1)


def min_ade(pred: torch.Tensor, future: torch.Tensor) -> float:
    r"""minADE_K: the average displacement error of the best of K forecasts, averaged over agents.

    ADE = (1/T) sum_t ||x_hat_t - x_t||;  minADE_K = mean_i min_k ADE_ik. Forecasts (N, K, T, 2) or
    (N, T, 2) (K = 1), true future (N, T, 2); metres.
    """
    return displacement_errors(pred, future).mean(dim=2).min(dim=1).values.mean().item()


def min_fde(pred: torch.Tensor, future: torch.Tensor) -> float:
    r"""minFDE_K: the final displacement error ||x_hat_T - x_T|| of the best of K forecasts, averaged over agents.

    The best forecast is chosen for FDE on its own (as in Social GAN and Trajectron++), so it may differ from
    the one that achieves minADE. Metres.
    """
    return displacement_errors(pred, future)[:, :, -1].min(dim=1).values.mean().item()


def nearest_branch(points: torch.Tensor, branch_ends: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Which branch end (N, 3, 2) each point (N, ..., 2) is closest to, and how far: two (N, ...) tensors."""
    if branch_ends.dim() != 3 or branch_ends.shape[1:] != (3, 2) or points.shape[0] != branch_ends.shape[0]:
        raise ValueError(
            f"need points (N, ..., 2) and branch ends (N, 3, 2), got {tuple(points.shape)} and {tuple(branch_ends.shape)}"
        )
    flat = points.reshape(len(points), -1, 2)  # (N, M, 2)
    distance = torch.cdist(flat.double(), branch_ends.double().to(flat.device)).float()  # (N, M, 3)
    closest, which = distance.min(dim=-1)
    return which.reshape(points.shape[:-1]), closest.reshape(points.shape[:-1])

