"""Chapter 5's toy runs: the equal CPU budget of the recipes, and the Recording of a monitored, cached run."""

from __future__ import annotations

import pytest
import torch

from genmodels.data import toy_distribution
from genmodels.metrics import mode_coverage
from genmodels.models import MLPGANConfig, sample_latent
from genmodels.recipes import TOY_METHODS, TOY_STEP_COST, toy_recipe, toy_steps
from genmodels.toy_gans import Recording, train_toy_gan


def test_equal_budget_gives_each_method_steps_in_inverse_proportion_to_its_cost():
    assert set(TOY_STEP_COST) == set(TOY_METHODS)
    assert toy_steps("GAN", 6000) == 6000
    assert toy_steps("WGAN-GP", 6000) == round(6000 / TOY_STEP_COST["WGAN-GP"]) < 6000 / 4
    for method in TOY_METHODS:
        assert toy_steps(method, 3000) * TOY_STEP_COST[method] == pytest.approx(3000, abs=TOY_STEP_COST[method])
    with pytest.raises(ValueError, match="unknown toy method"):
        toy_steps("BigGAN", 100)


def test_wgan_gp_runs_at_the_recipe_of_its_paper():
    _, recipe = toy_recipe("WGAN-GP", toy_distribution("ring8").modes)
    args = recipe.train_args
    assert (args["gp_weight"], args["d_steps"], args["lr_g"], args["lr_d"], tuple(args["betas"])) == (
        10.0, 5, 1e-4, 1e-4, (0.0, 0.9))
    assert toy_recipe("PacGAN4", toy_distribution("ring8").modes)[0] == {"pack": 4}


def test_a_recording_keeps_its_frames_through_a_state_dict():
    recording = Recording(MLPGANConfig(), num_frames=3, frame_points=5)
    assert recording.taken() == ([], [])
    x = torch.randn(7, 2)
    recording.record(0, 0, x)
    recording.record(1, 40, 2 * x)
    copy = Recording(MLPGANConfig(), num_frames=3, frame_points=5)
    copy.load_state_dict(recording.state_dict())
    frames, steps = copy.taken()
    assert steps == [0, 40] and torch.equal(frames[0], x[:5]) and torch.equal(frames[1], 2 * x[:5])


def test_train_toy_gan_monitors_records_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("GENMODELS_CACHE_DIR", str(tmp_path))
    recording, history = train_toy_gan("ring8", "GAN", 100, num_frames=4, frame_points=50)
    frames, steps = recording.taken()
    # 100 steps, logged every 2 and at the last: 51 monitored steps, a frame every 12th of them
    assert steps == [0, 24, 48, 72] and all(f.shape == (50, 2) for f in frames)
    assert len(history["modes"]) == len(history.steps) == 51
    assert history["cpu_seconds"][0] > 0
    # the monitor's last numbers are those of the final generator on the fixed latent vectors
    z = sample_latent(2500, 2, torch.Generator().manual_seed(0), "cpu")
    with torch.no_grad():
        final = mode_coverage(recording.gan.generator(z), toy_distribution("ring8").modes, 0.01)
    assert history["modes"][-1] == final.num_captured and history["high_quality"][-1] == final.high_quality
    assert len(list(tmp_path.glob("ch05-ring8-GAN*.pt"))) == 1
    import genmodels.toy_gans as toy_gans

    monkeypatch.setattr(toy_gans, "train_gan", lambda *a, **k: pytest.fail("a cached run must not train again"))
    again, history_again = train_toy_gan("ring8", "GAN", 100, num_frames=4, frame_points=50)
    assert history_again.steps == history.steps and torch.equal(again.frames, recording.frames)
