"""Diffusion and flow matching (chapter 12): every test compares with a number known in closed form."""

from __future__ import annotations

import math

import pytest
import torch

from genmodels.models.diffusion import (
    DigitDenoiser,
    DigitDenoiserConfig,
    NoiseSchedule,
    ToyDenoiser,
    ToyDenoiserConfig,
    ddim_sample,
    ddpm_elbo_weight,
    ddpm_loss,
    ddpm_sample,
    flow_matching_loss,
    flow_sample,
    gaussian_kl,
    gaussian_optimal_eps,
    guided,
)
from genmodels.diffusion_training import train_denoiser


@pytest.mark.parametrize("kind", ["cosine", "linear"])
def test_forward_marginals_match_the_closed_form(kind):
    """Running q(x_t | x_{t-1}) step by step gives mean sqrt(abar_t) x_0 and variance 1 - abar_t."""
    schedule = NoiseSchedule(200, kind)
    rng = torch.Generator().manual_seed(0)
    x0 = torch.full((20_000, 1), 1.5, dtype=torch.float64)
    x = x0.clone()
    for t in range(1, 201):
        beta = schedule.betas[t]
        x = (1 - beta).sqrt() * x + beta.sqrt() * torch.randn(x.shape, generator=rng, dtype=torch.float64)
        if t in (10, 100, 200):
            abar = schedule.alpha_bars[t]
            assert abs(x.mean() - abar.sqrt() * 1.5) < 4 * math.sqrt(1 / 20_000)
            assert abs(x.var() / (1 - abar) - 1) < 0.05
    # the closed-form sampler agrees with itself
    t = torch.full((20_000,), 100)
    xt = schedule.q_sample(x0, t, torch.randn(x0.shape, generator=rng, dtype=torch.float64))
    assert abs(xt.var() - (1 - schedule.alpha_bars[100])) < 0.05


def test_posterior_is_the_bayes_inverse_of_one_step():
    """q(x_{t-1} | x_t, x_0) from the schedule equals the Gaussian conditioning computed by hand."""
    schedule = NoiseSchedule(50)
    t = torch.tensor([7])
    x0, xt = torch.tensor([[0.3]], dtype=torch.float64), torch.tensor([[-0.8]], dtype=torch.float64)
    a_prev, beta = schedule.alpha_bars[6], schedule.betas[7]
    # prior x_{t-1} ~ N(sqrt(a_prev) x0, 1 - a_prev); likelihood x_t ~ N(sqrt(1 - beta) x_{t-1}, beta)
    precision = 1 / (1 - a_prev) + (1 - beta) / beta
    mean = (a_prev.sqrt() * x0 / (1 - a_prev) + (1 - beta).sqrt() * xt / beta) / precision
    got_mean, got_var = schedule.posterior(x0, xt, t)
    assert torch.allclose(got_mean, mean) and torch.allclose(got_var.squeeze(), 1 / precision)


def test_simplified_loss_is_the_elbo_term_up_to_its_weight():
    """KL(q(x_{t-1}|x_t,x_0) || p_theta(x_{t-1}|x_t)) = lambda_t ||eps - eps_theta||^2 for any eps_theta."""
    schedule = NoiseSchedule(100)
    rng = torch.Generator().manual_seed(1)
    x0 = torch.randn(6, 3, generator=rng, dtype=torch.float64)
    eps = torch.randn(6, 3, generator=rng, dtype=torch.float64)
    eps_theta = torch.randn(6, 3, generator=rng, dtype=torch.float64)  # any prediction
    t = torch.tensor([2, 5, 20, 50, 80, 100])
    xt = schedule.q_sample(x0, t, eps)
    mean_q, var_q = schedule.posterior(x0, xt, t)
    mean_p, var_p = schedule.posterior(schedule.predict_x0(xt, t, eps_theta), xt, t)
    kl = gaussian_kl(mean_q, var_q.expand_as(mean_q), mean_p, var_p.expand_as(mean_p))
    expected = ddpm_elbo_weight(schedule, t) * (eps - eps_theta).pow(2).sum(1)
    assert torch.allclose(kl, expected, rtol=1e-8)
    assert not torch.allclose(kl, (eps - eps_theta).pow(2).sum(1))  # the weights are not all 1


def test_trained_denoiser_approaches_the_exact_one_on_gaussian_data():
    """1-D data N(1, 0.5^2): after a short training the network's eps is near Tweedie's E[eps | x_t]."""
    torch.manual_seed(0)
    schedule = NoiseSchedule(100)
    mean, cov = torch.tensor([1.0]), torch.tensor([[0.25]])
    exact = gaussian_optimal_eps(mean, cov, schedule)
    model = ToyDenoiser(ToyDenoiserConfig(data_dim=1, hidden=64, num_layers=2, num_frequencies=0, time_dim=16))
    rng = torch.Generator().manual_seed(0)
    batches = iter(lambda: (mean + 0.5 * torch.randn(256, 1, generator=rng),), None)

    x = torch.linspace(-1.5, 2.5, 41)[:, None]
    errors = {}
    for name, num_steps in [("untrained", 0), ("trained", 800)]:
        if num_steps:
            train_denoiser(model, batches, num_steps, objective="ddpm", lr=3e-3, schedule=schedule, rng=rng, progress=False)
        error = 0.0
        for t_int in (10, 50, 90):
            t = torch.full((41,), t_int / 100)
            with torch.no_grad():
                error += (model(x, t) - exact(x, t)).pow(2).mean().item() / 3
        errors[name] = error
    assert errors["trained"] < 0.01 < errors["untrained"]


def test_ddim_is_deterministic_given_the_noise():
    schedule = NoiseSchedule(100)
    model = ToyDenoiser(ToyDenoiserConfig(hidden=32, num_layers=2))
    x_T = torch.randn(8, 2, generator=torch.Generator().manual_seed(3))
    a = ddim_sample(model, schedule, (8, 2), num_steps=10, x_T=x_T)
    b = ddim_sample(model, schedule, (8, 2), num_steps=10, x_T=x_T.clone())
    c = ddim_sample(model, schedule, (8, 2), num_steps=10, rng=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.allclose(a, c)
    # ancestral sampling is not: two draws from the same x_T differ
    d1 = ddpm_sample(model, NoiseSchedule(20), (8, 2), rng=torch.Generator().manual_seed(3))
    d2 = ddpm_sample(model, NoiseSchedule(20), (8, 2), rng=torch.Generator().manual_seed(5))
    assert not torch.allclose(d1, d2)


MEAN = torch.tensor([1.0, -2.0])
COV = torch.tensor([[1.0, 0.6], [0.6, 0.5]])


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "flow"])
def test_samplers_recover_gaussian_mean_and_covariance(sampler):
    """With the exact denoiser of N(MEAN, COV), every sampler draws that Gaussian."""
    rng = torch.Generator().manual_seed(0)
    n = 20_000
    if sampler == "ddpm":
        schedule = NoiseSchedule(200)
        x = ddpm_sample(gaussian_optimal_eps(MEAN, COV, schedule), schedule, (n, 2), rng=rng)
    elif sampler == "ddim":
        schedule = NoiseSchedule(1000)
        x = ddim_sample(gaussian_optimal_eps(MEAN, COV, schedule), schedule, (n, 2), num_steps=100, rng=rng)
    else:
        x = flow_sample(gaussian_optimal_eps(MEAN, COV), (n, 2), num_steps=100, rng=rng)
    assert torch.allclose(x.mean(0), MEAN, atol=0.04)
    assert torch.allclose(torch.cov(x.T), COV, atol=0.05)


def test_flow_matching_euler_step_is_a_ddim_step_on_the_straight_path():
    """x_s = (1 - s) x0_hat + s eps_hat with eps_hat = x_t + (1 - t) v, x0_hat = x_t - t v equals x_t + (s - t) v."""
    rng = torch.Generator().manual_seed(2)
    xt, v = torch.randn(5, 2, generator=rng), torch.randn(5, 2, generator=rng)
    t, s = 0.7, 0.4
    eps_hat, x0_hat = xt + (1 - t) * v, xt - t * v
    assert torch.allclose((1 - s) * x0_hat + s * eps_hat, xt + (s - t) * v, atol=1e-6)


def test_losses_are_zero_for_the_exact_predictor_in_expectation_only():
    """The losses are positive scalars, and the exact denoiser does better than a wrong one."""
    rng = torch.Generator().manual_seed(0)
    schedule = NoiseSchedule(100)
    x0 = MEAN + torch.randn(4000, 2, generator=rng) @ torch.linalg.cholesky(COV).T
    exact = ddpm_loss(gaussian_optimal_eps(MEAN, COV, schedule), x0, schedule, rng=torch.Generator().manual_seed(1))
    wrong = ddpm_loss(lambda x, t, y=None: torch.zeros_like(x), x0, schedule, rng=torch.Generator().manual_seed(1))
    assert 0 < exact < wrong
    fm_exact = flow_matching_loss(gaussian_optimal_eps(MEAN, COV), x0, rng=torch.Generator().manual_seed(1))
    fm_wrong = flow_matching_loss(lambda x, t, y=None: torch.zeros_like(x), x0, rng=torch.Generator().manual_seed(1))
    assert 0 < fm_exact < fm_wrong


def test_digit_denoiser_shapes_and_guidance():
    model = DigitDenoiser(DigitDenoiserConfig(hidden=32, num_blocks=1))
    x, t, y = torch.randn(3, 1, 28, 28), torch.rand(3), torch.tensor([0, 4, 9])
    assert model(x, t, y).shape == (3, 1, 28, 28)
    assert model(x, t).shape == (3, 1, 28, 28)
    with torch.no_grad():
        cond, uncond = model(x, t, y), model(x, t, torch.full_like(y, 10))
        w = 2.0
        assert torch.allclose(guided(model, w, 10)(x, t, y), (1 + w) * cond - w * uncond, atol=1e-5)
        assert guided(model, 0.0, 10) is model


# ------------------------------------------------------------------------------------- command line
def test_cli_trains_and_samples_diffusion_on_a_toy_and_on_digits(tmp_path, capsys):
    import numpy as np

    from genmodels.cli import main

    assert main(["train", "diffusion", "--data", "ring8", "--steps", "20", "--out", str(tmp_path / "r.pt")]) == 0
    assert main(["sample", str(tmp_path / "r.pt"), "-n", "7", "--sampler-steps", "3", "--out", str(tmp_path / "r.npy")]) == 0
    assert np.load(tmp_path / "r.npy").shape == (7, 2)
    assert main(["train", "diffusion", "--data", "mnist", "--steps", "2", "--out", str(tmp_path / "m.pt")]) == 0
    assert main(["sample", str(tmp_path / "m.pt"), "-n", "3", "--label", "4", "--sampler-steps", "2",
                 "--out", str(tmp_path / "m.npy")]) == 0
    x = np.load(tmp_path / "m.npy")
    assert x.shape == (3, 1, 28, 28) and x.min() >= 0 and x.max() <= 1
    capsys.readouterr()
    # the same one-line errors as the other models
    assert main(["sample", str(tmp_path / "r.pt"), "-n", "2", "--label", "1", "--out", str(tmp_path / "x.npy")]) == 2
    assert "not conditional: drop --label" in capsys.readouterr().err
    assert main(["sample", str(tmp_path / "m.pt"), "-n", "2", "--label", "10", "--out", str(tmp_path / "x.npy")]) == 2
    assert "--label must be between 0 and 9" in capsys.readouterr().err
    assert main(["train", "diffusion", "--data", "moons", "--out", str(tmp_path / "x.pt")]) == 2
    assert "trains on --data" in capsys.readouterr().err


def test_cli_sampler_steps_only_for_diffusion(tmp_path, capsys):
    from genmodels.cli import main

    assert main(["train", "gaussian", "--data", "ring8", "--out", str(tmp_path / "g.pt")]) == 0
    capsys.readouterr()
    assert main(["sample", str(tmp_path / "g.pt"), "-n", "2", "--sampler-steps", "4", "--out", str(tmp_path / "g.npy")]) == 2
    assert "drop --sampler-steps" in capsys.readouterr().err
