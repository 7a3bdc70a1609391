"""Chapter 7: the junction trajectories, the forecasting metrics, the baselines, the trajectory CVAE and its CLI.

Numbers a wrong implementation would get wrong: branch proportions and speeds of the generator, a past that does not
reveal the branch, hand-computed minADE / minFDE, a constant-velocity forecast that is exact on constant-velocity
data, and a small CVAE that beats both baselines after a few hundred steps.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from genmodels import seed_everything
from genmodels.checkpoints import load_checkpoint
from genmodels.cli import main
from genmodels.data import infinite_minibatches
from genmodels.recipes import TRAJECTORY_RECIPE
from genmodels.models import (
    TrajectoryCVAE,
    TrajectoryCVAEConfig,
    TrajectoryMultiHead,
    TrajectoryRegressor,
    trajectory_cvae_loss,
    trajectory_mse_loss,
    trajectory_wta_loss,
)
from genmodels.trajectories import (
    BRANCHES,
    DT,
    branch_path,
    constant_velocity,
    displacement_errors,
    min_ade,
    min_fde,
    nearest_branch,
    sample_junction,
    sampled_constant_velocity,
)
from genmodels.training import fit


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------------------------- generator
def test_shapes_dtypes_and_seeding():
    agents = sample_junction(64, _gen(0))
    assert agents.past.shape == (64, 8, 2) and agents.future.shape == (64, 12, 2)
    assert agents.branch_futures.shape == (64, 3, 12, 2) and agents.trajectories().shape == (64, 20, 2)
    assert agents.past.dtype == agents.future.dtype == torch.float32 and agents.branch.dtype == torch.int64
    again, other = sample_junction(64, _gen(0)), sample_junction(64, _gen(1))
    assert torch.equal(agents.past, again.past) and torch.equal(agents.future, again.future)
    assert not torch.equal(agents.past, other.past)
    assert len(sample_junction(0, _gen(0))) == 0
    assert BRANCHES == ("left", "straight", "right")


def test_branch_proportions():
    agents = sample_junction(20_000, _gen(1))
    share = torch.bincount(agents.branch, minlength=3).double() / len(agents)
    assert torch.allclose(share, torch.tensor([0.3, 0.4, 0.3], dtype=torch.float64), atol=0.015), share
    lopsided = sample_junction(5_000, _gen(2), probs=(0.5, 0.0, 0.5))
    share = torch.bincount(lopsided.branch, minlength=3).double() / len(lopsided)
    assert share[1] == 0 and abs(share[0] - 0.5) < 0.03


def test_speeds_and_clean_geometry():
    agents = sample_junction(4_000, _gen(3), noise_std=0.0, accel=(0.0, 0.0), lane_std=0.0)
    assert agents.speed.min() >= 4.0 and agents.speed.max() <= 7.0
    assert abs(agents.speed.mean().item() - 5.5) < 0.1  # uniform on (4, 7)
    # constant speed on the straight approach: every observed step is speed * DT long, along +y
    steps = agents.past[:, 1:] - agents.past[:, :-1]  # (N, 7, 2)
    assert torch.allclose(steps[..., 1], (agents.speed * DT)[:, None].expand(-1, 7), atol=1e-4)
    assert steps[..., 0].abs().max() < 1e-5
    # the whole past lies before the entry line, at most 6 m + 7 steps away
    assert agents.past[:, -1, 1].max() <= 1e-5 and agents.past[:, -1, 1].min() >= -6.0 - 1e-5
    # without noise the future is the branch taken; left ends left of the lane, right ends right, straight on it
    taken = agents.branch_futures[torch.arange(len(agents)), agents.branch]
    assert torch.allclose(agents.future, taken)
    end_x = agents.future[:, -1, 0]
    assert (end_x[agents.branch == 0] < -3).all() and (end_x[agents.branch == 2] > 3).all()
    assert end_x[agents.branch == 1].abs().max() < 1e-5


def test_the_past_does_not_reveal_the_branch():
    agents = sample_junction(20_000, _gen(4))
    last_y = [agents.past[agents.branch == b, -1, 1].mean().item() for b in range(3)]
    speed = [agents.speed[agents.branch == b].mean().item() for b in range(3)]
    assert max(last_y) - min(last_y) < 0.15, last_y
    assert max(speed) - min(speed) < 0.1, speed


def test_lane_offset_changes_the_odds():
    assert torch.allclose(sample_junction(50, _gen(4)).odds, torch.tensor([0.3, 0.4, 0.3]).expand(50, 3))
    agents = sample_junction(40_000, _gen(4), lane_std=0.5, lane_bias=3.0)
    # the odds by hand for x0 = -0.5 m: weights 0.3 e^1.5, 0.4, 0.3 e^-1.5
    weights = torch.tensor([0.3 * math.exp(1.5), 0.4, 0.3 * math.exp(-1.5)])
    expected = weights / weights.sum()
    near = (agents.lane + 0.5).abs() < 0.05  # cars about 0.5 m left of the lane centre
    assert torch.allclose(agents.odds[near].mean(0), expected, atol=0.02)
    share = torch.bincount(agents.branch[near], minlength=3).double() / near.sum()
    assert torch.allclose(share.float(), expected, atol=4 * math.sqrt(0.25 / near.sum().item())), (share, expected)
    # the past shows the lane offset: its mean x is the offset, up to the sensor noise averaged over 8 steps
    assert (agents.past[:, :, 0].mean(1) - agents.lane).std() < 0.1 / math.sqrt(8) * 1.2


def test_branch_path_by_hand():
    s = torch.tensor([-2.0, 0.0, math.pi, 2 * math.pi, 2 * math.pi + 3])
    radius = torch.tensor(4.0)
    left = branch_path(s, torch.tensor(0), torch.tensor(0.0), radius)
    expected = torch.tensor([[0, -2], [0, 0], [-4 + 4 * math.cos(math.pi / 4), 4 * math.sin(math.pi / 4)],
                             [-4, 4], [-7, 4]], dtype=torch.float32)
    assert torch.allclose(left, expected, atol=1e-5)
    right = branch_path(s, torch.tensor(2), torch.tensor(0.0), radius)
    assert torch.allclose(right, expected * torch.tensor([-1.0, 1.0]), atol=1e-5)
    straight = branch_path(s, torch.tensor(1), torch.tensor(0.5), radius)
    assert torch.allclose(straight, torch.stack([torch.full_like(s, 0.5), s], dim=1))


@pytest.mark.parametrize("kwargs, words", [
    ({"probs": (0.5, 0.5, 0.5)}, "summing to 1"),
    ({"probs": (1.0, 0.0)}, "three"),
    ({"speed": (5.0, 4.0)}, "speed"),
    ({"num_past": 1}, "num_past"),
    ({"noise_std": -1.0}, "noise_std"),
])
def test_generator_rejects_bad_arguments(kwargs, words):
    with pytest.raises(ValueError, match=words):
        sample_junction(10, _gen(0), **kwargs)
    with pytest.raises(ValueError, match="whole number"):
        sample_junction(-1)


# --------------------------------------------------------------------------------------------- metrics
def test_min_ade_and_min_fde_by_hand():
    future = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]])  # (1, 3, 2)
    shifted = future + torch.tensor([0.0, 1.0])  # 1 m off at every step: ADE 1, FDE 1
    late = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [2.0, 3.0]]])  # only the end is 3 m off: ADE 1, FDE 3
    early = torch.tensor([[[0.0, 2.0], [1.0, 0.0], [2.0, 0.0]]])  # only the start is 2 m off: ADE 2/3, FDE 0
    samples = torch.stack([shifted[0], late[0], early[0]])[None]  # (1, K=3, 3, 2)
    assert torch.allclose(displacement_errors(samples, future), torch.tensor([[[1.0, 1, 1], [0, 0, 3], [2, 0, 0]]]))
    assert min_ade(samples, future) == pytest.approx(2 / 3)
    assert min_fde(samples, future) == pytest.approx(0.0)  # the best FDE comes from another sample than the best ADE
    assert min_ade(late, future) == pytest.approx(1.0) and min_fde(late, future) == pytest.approx(3.0)
    # two agents: the mean over agents; a 3-4-5 triangle for the second
    future2 = torch.cat([future, torch.zeros(1, 3, 2)])
    pred2 = torch.cat([shifted, torch.tensor([[[3.0, 4.0]] * 3])])
    assert min_ade(pred2, future2) == pytest.approx((1 + 5) / 2)
    assert min_fde(pred2, future2) == pytest.approx((1 + 5) / 2)


def test_metrics_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="forecasts must be"):
        min_ade(torch.zeros(2, 5, 2), torch.zeros(2, 4, 2))
    with pytest.raises(ValueError, match="future must be"):
        min_fde(torch.zeros(2, 4, 2), torch.zeros(2, 4))


def test_nearest_branch_by_hand():
    ends = torch.tensor([[[-10.0, 5.0], [0.0, 20.0], [10.0, 5.0]]])  # (1, 3, 2)
    which, distance = nearest_branch(torch.tensor([[[-9.0, 5.0], [0.0, 10.0], [13.0, 9.0]]]), ends)
    assert which.tolist() == [[0, 1, 2]]
    assert torch.allclose(distance, torch.tensor([[1.0, 10.0, 5.0]]))


def test_constant_velocity_is_exact_on_constant_velocity_data():
    t = torch.arange(20, dtype=torch.float32)[None, :, None]  # (1, 20, 1)
    start, velocity = torch.tensor([[[1.0, -2.0]], [[0.0, 0.0]]]), torch.tensor([[[0.3, 1.7]], [[-2.0, 0.5]]])
    track = start + velocity * t  # (2, 20, 2) straight lines at constant speed
    for window in (1, 3, 7):
        forecast = constant_velocity(track[:, :8], 12, window=window)
        assert torch.allclose(forecast, track[:, 8:], atol=1e-5)
        assert min_ade(forecast, track[:, 8:]) < 1e-5
    # on the junction, without noise or acceleration, it is exact for the agents that go straight on
    agents = sample_junction(500, _gen(5), noise_std=0.0, accel=(0.0, 0.0))
    straight = agents.branch == 1
    forecast = constant_velocity(agents.past)
    assert min_fde(forecast[straight], agents.future[straight]) < 1e-3
    assert min_fde(forecast[~straight], agents.future[~straight]) > 5.0  # and far off for those who turn
    with pytest.raises(ValueError, match="window"):
        constant_velocity(agents.past, window=8)


def test_sampled_constant_velocity():
    agents = sample_junction(200, _gen(5))
    samples = sampled_constant_velocity(agents.past, 7, 0.0, 0.0, rng=_gen(0))
    assert samples.shape == (200, 7, 12, 2)
    assert torch.allclose(samples, constant_velocity(agents.past)[:, None].expand(-1, 7, -1, -1), atol=1e-5)
    # heading noise only: same speed, direction turned by angles with the requested spread
    turned = sampled_constant_velocity(agents.past, 50, 0.4, 0.0, rng=_gen(1))
    base = constant_velocity(agents.past)[:, None, 0] - agents.past[:, None, -1]  # (N, 1, 2) velocity per step
    step = turned[:, :, 0] - agents.past[:, None, -1]  # (N, 50, 2)
    assert torch.allclose(step.norm(dim=-1), base.norm(dim=-1).expand(-1, 50), rtol=1e-4)
    angle = torch.atan2(step[..., 1], step[..., 0]) - torch.atan2(base[..., 1], base[..., 0])
    assert abs(angle.std().item() - 0.4) < 0.02
    scaled = sampled_constant_velocity(agents.past, 50, 0.0, 0.2, rng=_gen(2))
    factor = (scaled[:, :, 0] - agents.past[:, None, -1]).norm(dim=-1) / base.norm(dim=-1)
    assert abs(factor.mean().item() - 1) < 0.01 and abs(factor.std().item() - 0.2) < 0.01
    with pytest.raises(ValueError, match="num_samples"):
        sampled_constant_velocity(agents.past, 0, 0.1, 0.1)


# -------------------------------------------------------------------------------------- the forecasters
def test_learned_prior_kl_and_sampling():
    model = TrajectoryCVAE(TrajectoryCVAEConfig(hidden_dim=16, learned_prior=True))
    agents = sample_junction(6, _gen(6))
    torch.manual_seed(3)
    losses = trajectory_cvae_loss(model, agents.past, agents.future)
    torch.manual_seed(3)
    mean, mu, logvar = model(agents.past, agents.future)
    prior_mu, prior_logvar = model.prior(agents.past)
    assert prior_mu.shape == (6, 2) and not torch.allclose(prior_mu, torch.zeros(6, 2))
    kl = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(prior_mu, (0.5 * prior_logvar).exp())).sum(-1)
    assert torch.allclose(losses["kl"], kl.mean(), rtol=1e-5)
    # samples are decoder means at z = prior mean + prior std * eps
    samples = model.sample(agents.past, 4, rng=_gen(0))
    eps = torch.randn(4, 6, 2, generator=_gen(0))
    with torch.no_grad():
        by_hand = model.decode(agents.past, prior_mu + (0.5 * prior_logvar).exp() * eps).transpose(0, 1)
    assert torch.allclose(samples, by_hand, atol=1e-5)
    fixed = TrajectoryCVAE(TrajectoryCVAEConfig(hidden_dim=16))
    assert all(torch.equal(t, torch.zeros(6, 2)) for t in fixed.prior(agents.past))


def test_winner_takes_all_penalizes_only_the_closest_head():
    model = TrajectoryMultiHead(TrajectoryCVAEConfig(hidden_dim=16, num_heads=5))
    agents = sample_junction(8, _gen(7))
    heads = model(agents.past)
    assert heads.shape == (8, 5, 12, 2)
    scale = model.config.scale
    per_head = ((heads - agents.future[:, None]) / scale).pow(2).flatten(2).mean(dim=2)  # (N, K)
    loss = trajectory_wta_loss(model, agents.past, agents.future)
    assert torch.allclose(loss, per_head.min(dim=1).values.mean(), rtol=1e-5)
    loss.backward()  # only the winning heads get a gradient in the last layer
    grad = model.head[-1].weight.grad.unflatten(0, (5, -1)).abs().sum(dim=(1, 2))  # (K,)
    winners = set(per_head.argmin(dim=1).tolist())
    assert all((grad[k] > 0) == (k in winners) for k in range(5)), (grad, winners)



def test_trajectory_cvae_shapes_and_errors():
    model = TrajectoryCVAE(TrajectoryCVAEConfig(hidden_dim=16))
    agents = sample_junction(5, _gen(6))
    samples = model.sample(agents.past, 7, rng=_gen(0))
    assert samples.shape == (5, 7, 12, 2)
    torch.manual_seed(3)
    losses = trajectory_cvae_loss(model, agents.past, agents.future)
    torch.manual_seed(3)  # the same z inside the model
    mean, mu, logvar = model(agents.past, agents.future)
    assert mean.shape == (5, 12, 2) and mu.shape == logvar.shape == (5, 2)
    # -ELBO from torch.distributions: KL(q || N(0, I)) - log N(future offsets; decoded offsets, (sigma / scale)^2)
    kl = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(-1)
    sigma = model.config.sigma / model.config.scale
    log_lik = Normal(model.to_offsets(agents.past, mean), sigma).log_prob(model.to_offsets(agents.past, agents.future))
    rec = -log_lik.flatten(1).sum(1)
    assert torch.allclose(losses["kl"], kl.mean(), rtol=1e-5)
    assert torch.allclose(losses["reconstruction"], rec.mean(), rtol=1e-5)
    assert torch.allclose(losses["loss"], (kl + rec).mean(), rtol=1e-5)
    assert TrajectoryRegressor(TrajectoryCVAEConfig(hidden_dim=16))(agents.past).shape == (5, 12, 2)
    with pytest.raises(ValueError, match=r"past must be \(N, 8, 2\)"):
        model.sample(agents.future, 3)
    with pytest.raises(ValueError, match="num_samples"):
        model.sample(agents.past, 0)


@pytest.fixture(scope="module")
def trained():
    """A small CVAE and MSE regressor, 400 steps each on 8,000 agents; 500 test agents."""
    train, test = sample_junction(8_000, _gen(10)), sample_junction(500, _gen(11))
    config = TrajectoryCVAEConfig(hidden_dim=64)
    seed_everything(0)
    cvae, regressor = TrajectoryCVAE(config), TrajectoryRegressor(config)
    for model, loss in [(cvae, trajectory_cvae_loss), (regressor, trajectory_mse_loss)]:
        batches = infinite_minibatches(train.past, train.future, batch_size=TRAJECTORY_RECIPE.batch_size,
                                       rng=_gen(0))
        fit(model, loss, batches, 400, lr=TRAJECTORY_RECIPE.train_args["lr"], progress=False)
    return cvae, regressor, test


def test_a_small_cvae_beats_both_baselines_at_best_of_20(trained):
    cvae, regressor, test = trained
    samples = cvae.sample(test.past, 20, rng=_gen(0))
    with torch.no_grad():
        mse_forecast = regressor(test.past)
    cv_forecast = constant_velocity(test.past)
    cvae_fde, cv_fde, mse_fde = (min_fde(p, test.future) for p in (samples, cv_forecast, mse_forecast))
    assert cvae_fde < 0.5 * cv_fde and cvae_fde < 0.5 * mse_fde, (cvae_fde, cv_fde, mse_fde)
    assert min_ade(samples, test.future) < min(min_ade(cv_forecast, test.future), min_ade(mse_forecast, test.future))


def test_the_mse_forecast_ends_between_the_branches(trained):
    cvae, regressor, test = trained
    ends = test.branch_futures[:, :, -1]  # (N, 3, 2) the three places this agent could end up
    with torch.no_grad():
        mse_end = regressor(test.past)[:, -1]
    _, mse_distance = nearest_branch(mse_end, ends)
    # the CVAE's samples reach every branch: for each of the three ends, the closest of 20 samples
    samples = cvae.sample(test.past, 20, rng=_gen(1))
    per_branch = (samples[:, :, None, -1] - ends[:, None]).norm(dim=-1).min(dim=1).values  # (N, 3)
    assert mse_distance.mean() > 5.0, mse_distance.mean()  # metres from the nearest possible end
    assert per_branch.mean(0).max() < 0.5 * mse_distance.mean(), per_branch.mean(0)


# ------------------------------------------------------------------------------------------------- CLI
def test_cli_trains_and_samples_the_trajectory_cvae(tmp_path, capsys):
    ckpt, out = tmp_path / "traj.pt", tmp_path / "traj.npy"
    assert main(["train", "trajcvae", "--data", "junction", "--steps", "30", "--out", str(ckpt)]) == 0
    assert "trained trajcvae on junction (30 steps" in capsys.readouterr().out
    record = load_checkpoint(ckpt)
    assert record["sample_shape"] == [20, 2] and record["config"]["latent_dim"] == 2
    assert record["config"]["learned_prior"]  # chapter 7's prior network p(z | past)
    assert main(["sample", str(ckpt), "-n", "16", "--out", str(out)]) == 0
    assert "(16, 20, 2)" in capsys.readouterr().out
    samples = np.load(out)
    assert samples.shape == (16, 20, 2) and samples.dtype == np.float32 and np.isfinite(samples).all()
    # the first 8 positions are an observed approach: up the y axis, before the junction, 4-7 m/s
    past = samples[:, :8]
    assert np.abs(past[..., 0]).max() < 2.0 and past[:, -1, 1].max() < 1.0
    speed = np.linalg.norm(past[:, -1] - past[:, 0], axis=-1) / (7 * DT)
    assert speed.min() > 3.0 and speed.max() < 8.0
    again = tmp_path / "again.npy"
    assert main(["sample", str(ckpt), "-n", "16", "--out", str(again)]) == 0
    assert np.array_equal(np.load(again), samples)  # the seed fixes pasts and futures


def test_cli_trajectory_errors(tmp_path, capsys):
    ckpt = tmp_path / "traj.pt"
    assert main(["train", "trajcvae", "--data", "mnist", "--out", str(ckpt)]) == 2
    assert "'trajcvae'" in capsys.readouterr().err and not ckpt.exists()
    assert main(["train", "vae", "--data", "junction", "--out", str(ckpt)]) == 2
    assert "'junction'" in capsys.readouterr().err
    assert main(["train", "trajcvae", "--data", "junction", "--steps", "2", "--out", str(ckpt)]) == 0
    capsys.readouterr()
    assert main(["sample", str(ckpt), "-n", "2", "--label", "1", "--out", str(tmp_path / "s.npy")]) == 2
    assert "not conditional" in capsys.readouterr().err
