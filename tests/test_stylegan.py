"""Chapter 11: AdaIN, noise injection, the mapping network, the style-based generator, style mixing, the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genmodels.checkpoints import load_checkpoint
from genmodels.cli import main
from genmodels.models import (
    AdaIN,
    MappingNetwork,
    NoiseInjection,
    StyleDiscriminator,
    StyleGANConfig,
    StyleGenerator,
    adaptive_instance_norm,
    make_noise,
)

SMALL = StyleGANConfig(latent_dim=8, w_dim=16, mapping_layers=2, channels=(8, 8, 4), disc_channels=4)


def _with_noise_scales(generator: StyleGenerator, value: float) -> StyleGenerator:
    with torch.no_grad():
        for layer in generator.layers:
            layer.noise.weight.fill_(value)
    return generator


# ---------------------------------------------------------------------------------------- AdaIN
def test_adain_output_has_the_requested_mean_and_std():
    torch.manual_seed(0)
    x = 3 * torch.randn(4, 5, 7, 7) + 2  # any input statistics
    scale, bias = torch.rand(4, 5) * 2 + 0.1, torch.randn(4, 5)
    y = adaptive_instance_norm(x, scale, bias)
    assert torch.allclose(y.mean(dim=(2, 3)), bias, atol=1e-5)
    assert torch.allclose(y.std(dim=(2, 3), unbiased=False), scale, atol=1e-4)
    # the input's own statistics are forgotten: a shifted, rescaled input gives the same output
    assert torch.allclose(adaptive_instance_norm(5 * x - 1, scale, bias), y, atol=1e-4)


def test_adain_module_starts_as_instance_norm_and_its_style_depends_on_w():
    torch.manual_seed(1)
    ada = AdaIN(w_dim=6, channels=3)
    x = torch.randn(2, 3, 5, 5)
    y = ada(x, torch.zeros(2, 6))  # w = 0: scale 1, bias 0
    assert torch.allclose(y, torch.nn.functional.instance_norm(x, eps=1e-5), atol=1e-5)
    w = torch.randn(2, 6)
    scale, bias = ada.affine(w).chunk(2, dim=1)
    y = ada(x, w)
    assert torch.allclose(y.mean(dim=(2, 3)), bias, atol=1e-5)
    assert torch.allclose(y.std(dim=(2, 3), unbiased=False), scale.abs(), atol=1e-4)


# -------------------------------------------------------------------------------- noise injection
def test_noise_injection_with_zero_scale_is_deterministic():
    inject = NoiseInjection(channels=3)
    x = torch.randn(2, 3, 4, 4)
    assert torch.equal(inject(x), x)
    assert torch.equal(inject(x, torch.randn(2, 1, 4, 4)), x)


def test_noise_injection_adds_the_scaled_noise_per_channel():
    inject = NoiseInjection(channels=3)
    with torch.no_grad():
        inject.weight.copy_(torch.tensor([0.0, 0.5, -2.0]))
    x, noise = torch.randn(2, 3, 4, 4), torch.randn(2, 1, 4, 4)
    y = inject(x, noise)
    assert torch.equal(y[:, 0], x[:, 0])
    assert torch.allclose(y[:, 1] - x[:, 1], 0.5 * noise[:, 0])
    assert torch.allclose(y[:, 2] - x[:, 2], -2.0 * noise[:, 0])
    with pytest.raises(ValueError, match="noise must have shape"):
        inject(x, torch.randn(2, 3, 4, 4))


def test_generator_noise_with_zero_scales_changes_nothing_and_with_nonzero_changes_the_image():
    torch.manual_seed(2)
    generator = _with_noise_scales(StyleGenerator(SMALL).eval(), 0.0)
    z = torch.randn(3, SMALL.latent_dim)
    gen = torch.Generator().manual_seed(0)
    a, b = generator(z, make_noise(3, gen)), generator(z, make_noise(3, gen))
    assert torch.equal(a, b)
    _with_noise_scales(generator, 0.5)
    a, b = generator(z, make_noise(3, gen)), generator(z, make_noise(3, gen))
    assert (a - b).abs().max() > 1e-3
    # the same noise gives the same image: the output is a function of (z, noise)
    noise = make_noise(3, gen)
    assert torch.equal(generator(z, noise), generator(z, noise))


# --------------------------------------------------------------------------------- shapes, mixing
def test_mapping_network_constant_input_and_output_shapes():
    torch.manual_seed(3)
    mapping = MappingNetwork(latent_dim=8, w_dim=16, num_layers=3)
    w = mapping(torch.randn(10, 8))
    assert w.shape == (10, 16)
    assert 0.3 < w.pow(2).mean().sqrt() < 3  # the initialization keeps w at about unit size
    assert torch.allclose(mapping(5 * torch.ones(1, 8)), mapping(torch.ones(1, 8)), atol=1e-5)  # z is normalized
    generator = StyleGenerator(SMALL)
    assert generator.const.shape == (1, SMALL.channels[0], 7, 7)
    assert [n.shape for n in make_noise(2)] == [(2, 1, r, r) for r in (7, 7, 14, 14, 28, 28)]
    x = generator.eval()(torch.randn(2, SMALL.latent_dim))
    assert x.shape == (2, 1, 28, 28) and 0 <= x.min() and x.max() <= 1
    with pytest.raises(ValueError, match="ws must have shape"):
        generator.synthesize(torch.randn(2, 5, SMALL.w_dim))
    with pytest.raises(ValueError, match="the mapping network needs"):
        MappingNetwork(8, 16, 0)


def test_style_mixing_with_identical_sources_equals_plain_generation():
    torch.manual_seed(4)
    generator = _with_noise_scales(StyleGenerator(SMALL).eval(), 0.3)
    z = torch.randn(4, SMALL.latent_dim)
    noise = make_noise(4, torch.Generator().manual_seed(1))
    w = generator.mapping(z)
    for layers_from_b in (torch.zeros(6, dtype=torch.bool), torch.arange(6) >= 2, torch.ones(6, dtype=torch.bool)):
        mixed = generator.synthesize(generator.mix_styles(w, w, layers_from_b), noise)
        assert torch.allclose(mixed, generator(z, noise), atol=1e-6)


def test_style_mixing_takes_each_layer_from_the_right_source():
    torch.manual_seed(5)
    generator = StyleGenerator(SMALL).eval()
    w_a, w_b = generator.mapping(torch.randn(3, 8)), generator.mapping(torch.randn(3, 8))
    ws = generator.mix_styles(w_a, w_b, torch.arange(6) >= 4)  # layers 4, 5 (28x28) from B
    assert torch.equal(ws[:, :4], w_a[:, None].expand(-1, 4, -1))
    assert torch.equal(ws[:, 4:], w_b[:, None].expand(-1, 2, -1))
    noise = make_noise(3, torch.Generator().manual_seed(2))
    only_a = generator.synthesize(generator.mix_styles(w_a, w_b, torch.zeros(6, dtype=torch.bool)), noise)
    fine_from_b = generator.synthesize(ws, noise)
    assert not torch.allclose(only_a, fine_from_b)  # the fine styles do change the image


def test_training_mode_mixes_styles_and_eval_mode_does_not():
    torch.manual_seed(6)
    config = StyleGANConfig(**{**SMALL.__dict__, "mixing_prob": 1.0})
    generator = StyleGenerator(config)
    z, noise = torch.randn(8, 8), make_noise(8, torch.Generator().manual_seed(3))
    generator.eval()
    plain = generator(z, noise)
    generator.train()
    torch.manual_seed(7)
    mixed = generator(z, noise)
    assert not torch.allclose(plain, mixed)  # every image took some layers from another z


def test_discriminator_sees_the_spread_of_its_batch():
    torch.manual_seed(9)
    discriminator = StyleDiscriminator(channels=4)
    x = torch.rand(6, 1, 28, 28)
    logits = discriminator(x)
    assert logits.shape == (6,)
    # the minibatch-std feature: changing the other images of the batch changes the verdict on the first
    other = torch.cat([x[:1], torch.rand(5, 1, 28, 28)])
    assert not torch.allclose(discriminator(other)[0], logits[0])
    # a batch of copies has zero spread: its verdict equals that of the image alone
    copies = x[:1].expand(4, -1, -1, -1)
    assert torch.allclose(discriminator(copies), discriminator(x[:1]).expand(4), atol=1e-6)


def test_the_style_generator_can_fit_a_few_digits(mnist):
    """A quick capacity and gradient-flow check: 100 Adam steps fit 4 digits from 4 fixed (z, noise)."""
    torch.manual_seed(8)
    generator = StyleGenerator(StyleGANConfig(**{**SMALL.__dict__, "mixing_prob": 0.0}))
    x, z = mnist.x_train[:4], torch.randn(4, 8)
    noise = make_noise(4, torch.Generator().manual_seed(0))
    optimizer = torch.optim.Adam(generator.parameters(), lr=1e-2)
    losses = []
    for _ in range(100):
        loss = (generator(z, noise) - x).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0], (losses[0], losses[-1])
    # every part learned: the constant input, the styles, the noise scales, the mapping network
    assert generator.const.grad is not None and generator.const.grad.abs().sum() > 0
    assert all(layer.noise.weight.abs().sum() > 0 for layer in generator.layers)


# ------------------------------------------------------------------------------------------ CLI
def test_cli_trains_and_samples_the_stylegan(tmp_path, capsys):
    ckpt, out = tmp_path / "style.pt", tmp_path / "s.npy"
    assert main(["train", "stylegan", "--data", "mnist", "--steps", "2", "--out", str(ckpt), "--device", "cpu"]) == 0
    assert "loss_d" in capsys.readouterr().out
    record = load_checkpoint(ckpt)
    assert record["model"] == "stylegan" and record["steps"] == 2
    assert main(["sample", str(ckpt), "-n", "5", "--out", str(out), "--device", "cpu"]) == 0
    samples = np.load(out)
    assert samples.shape == (5, 1, 28, 28) and samples.min() >= 0 and samples.max() <= 1
    again = tmp_path / "again.npy"
    assert main(["sample", str(ckpt), "-n", "5", "--out", str(again), "--device", "cpu"]) == 0
    assert np.array_equal(np.load(again), samples)  # the seed fixes z and the noise
    assert main(["sample", str(ckpt), "-n", "5", "--label", "3", "--out", str(out)]) == 2
    assert "not conditional" in capsys.readouterr().err


# ------------------------------------------------------------------- ink grain and the no-noise ablation
def test_ink_grain_has_the_closed_form_mean_and_spread_and_leaves_the_background_blank():
    from genmodels.ink import grain_std, ink_grain

    grey = torch.tensor([0.0, 0.2, 0.6, 1.0]).reshape(1, 1, 1, 4).expand(20_000, 1, 1, 4)  # 4 grey levels
    draws = ink_grain(grey, torch.Generator().manual_seed(0))
    assert torch.equal(draws[..., 0], torch.zeros_like(draws[..., 0]))  # no ink, no grain
    assert torch.allclose(draws.mean(dim=0).flatten(), 0.75 * grey[0].flatten(), atol=0.005)  # g (0.5 + 1) / 2
    assert torch.allclose(draws.std(dim=0).flatten(), torch.as_tensor(grain_std(grey[0].flatten())), atol=0.004)
    assert abs(grain_std(1.0) - 0.5 / 12**0.5) < 1e-12
    assert draws.min() >= 0 and (draws <= grey).all() and (draws[..., 3] >= 0.5).all()  # factors in [0.5, 1]
    # seeded: the same generator state gives the same grain; fresh draws differ; pixels are independent
    assert torch.equal(ink_grain(grey[:5], torch.Generator().manual_seed(1)), ink_grain(grey[:5], torch.Generator().manual_seed(1)))
    factors = draws[:, 0, 0, 3]  # grey level 1: the factor itself
    neighbour = ink_grain(grey, torch.Generator().manual_seed(0))[:, 0, 0, 2] / 0.6
    assert abs(torch.corrcoef(torch.stack([factors, neighbour]))[0, 1]) < 0.03
    with pytest.raises(ValueError, match="need 0 <= low <= high <= 1"):
        ink_grain(grey, low=0.8, high=0.5)
    with pytest.raises(ValueError, match="float grey levels"):
        ink_grain(torch.zeros(1, 1, 2, 2, dtype=torch.uint8))


def test_grainy_batches_draw_fresh_grain_each_time(mnist):
    from genmodels.data import infinite_minibatches
    from genmodels.ink import grainy_batches

    x = mnist.x_train[:8]
    clean = infinite_minibatches(x, batch_size=8, rng=torch.Generator().manual_seed(0))
    grainy = grainy_batches(infinite_minibatches(x, batch_size=8, rng=torch.Generator().manual_seed(0)),
                            torch.Generator().manual_seed(1))
    (clean_1,), (clean_2,) = next(clean), next(clean)
    (first,), (second,) = next(grainy), next(grainy)
    assert torch.equal(first > 0, clean_1 > 0) and torch.equal(second > 0, clean_2 > 0)  # the same digits
    assert (first <= clean_1).all() and (first >= 0.5 * clean_1 - 1e-7).all()
    assert not torch.equal(first / clean_1.clamp(min=1e-3), second / clean_2.clamp(min=1e-3))  # fresh grain


def test_stroke_roughness_tells_grainy_ink_from_uniform_ink(mnist):
    from genmodels.ink import ink_grain, stroke_roughness

    page = torch.full((200, 1, 28, 28), 0.9)  # uniform ink everywhere: no grain
    assert stroke_roughness(page).abs().max() < 1e-6
    grainy = ink_grain(page, torch.Generator().manual_seed(0))
    # reference: |u - median of u and 8 other independent u's| for u ~ U(0.45, 0.9), simulated directly
    u = torch.rand(200_000, 9, generator=torch.Generator().manual_seed(1)) * 0.45 + 0.45
    expected = (u[:, 0] - u.median(dim=1).values).abs().mean()
    assert abs(stroke_roughness(grainy).mean() - expected) < 0.003, (stroke_roughness(grainy).mean(), expected)
    # on real digits the grain raises the score well above the clean strokes' edges
    clean, rough = stroke_roughness(mnist.x_test).mean(), stroke_roughness(ink_grain(mnist.x_test)).mean()
    assert rough > clean + 0.03, (clean, rough)


def test_a_generator_without_noise_inputs_ignores_the_noise():
    torch.manual_seed(10)
    config = StyleGANConfig(**{**SMALL.__dict__, "noise_inputs": False})
    generator = StyleGenerator(config).eval()
    assert all(layer.noise is None for layer in generator.layers)
    with_noise = StyleGenerator(SMALL)
    assert sum(p.numel() for p in with_noise.parameters()) - sum(p.numel() for p in generator.parameters()) == sum(
        layer.noise.weight.numel() for layer in with_noise.layers)  # only the scales B are gone
    z = torch.randn(3, SMALL.latent_dim)
    gen = torch.Generator().manual_seed(0)
    draws = [generator(z, make_noise(3, gen)) for _ in range(3)] + [generator(z)]  # given or fresh noise
    assert all(torch.equal(draws[0], d) for d in draws[1:])
    assert StyleGANConfig.from_dict(config.to_dict()) == config


def test_spread_by_region_of_real_grain_matches_the_closed_form(mnist):
    from genmodels.ink import grain_std, ink_grain, spread_by_region

    x = mnist.x_test[:50]
    gen = torch.Generator().manual_seed(0)
    draws = torch.stack([ink_grain(x, gen) for _ in range(200)])  # (200, 50, 1, 28, 28): fixed digits, fresh grain
    inside, outside = spread_by_region(draws)
    expected = grain_std(x[0.75 * x > 0.3]).mean().item()  # the mean over draws is 0.75 g
    assert abs(inside - expected) < 0.01 * expected + 0.002, (inside, expected)
    assert outside < 1e-3  # blank paper stays blank
    assert spread_by_region(x.expand(3, -1, -1, -1, -1)) == (0.0, 0.0)  # no grain, no spread
    with pytest.raises(ValueError, match="draws must have shape"):
        spread_by_region(x)
