"""The live explorers (genmodels.explorers): ONNX exports agree with PyTorch, the widget and its files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("anywidget", reason="the live explorers need anywidget (requirements.txt)")
from genmodels.models import MLPVAE, VAEConfig  # noqa: E402
from genmodels import explorers  # noqa: E402
from genmodels.widgets import latent_explorer  # noqa: E402


@pytest.fixture()
def vae():
    torch.manual_seed(0)
    return MLPVAE(VAEConfig(latent_dim=2)).eval()


def _run_onnx(onnx: bytes, **inputs: torch.Tensor) -> list[np.ndarray]:
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime checks the export without a browser")
    session = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    return session.run(None, {k: v.numpy() for k, v in inputs.items()})



def _assets_sent(widget, monkeypatch) -> list:
    """Jupyter: the buffers the widget sends when its front end asks for its assets (onnxruntime-web stubbed)."""
    sent = []
    monkeypatch.setattr(explorers, "_runtime_buffers", lambda: [b"ort", b"wasm"])
    monkeypatch.setattr(widget, "send", lambda content, buffers=None: sent.append((content, buffers)))
    widget._answer(widget, {"kind": "assets"}, [])
    (content, buffers), = sent
    assert content == {"kind": "assets"}
    return buffers

def test_decoder_export_matches_pytorch_on_random_codes(vae):
    onnx = explorers.export_onnx(explorers._PixelMeans(vae), torch.zeros(1, 2), ["z"], ["x"])
    z = torch.randn(64, 2, generator=torch.Generator().manual_seed(1)) * 3          # any batch size (dynamic axis)
    (x,) = _run_onnx(onnx, z=z)
    with torch.no_grad():
        expected = torch.sigmoid(vae.decode(z)).flatten(1)
    assert x.shape == (64, 784)
    assert np.abs(x - expected.numpy()).max() <= 1e-5


def test_encoder_export_matches_pytorch_on_random_digits(vae):
    onnx = explorers.export_onnx(explorers._Encoding(vae), torch.zeros(1, 784), ["x"], ["mu", "logvar"])
    x = torch.rand(32, 784, generator=torch.Generator().manual_seed(2))
    mu, logvar = _run_onnx(onnx, x=x)
    with torch.no_grad():
        mu_t, logvar_t = vae.encode(x)
    assert np.abs(mu - mu_t.numpy()).max() <= 1e-5 and np.abs(logvar - logvar_t.numpy()).max() <= 1e-5


def test_latent_plane_writes_models_and_check_points_under_the_book_root(vae, tmp_path, monkeypatch):
    (tmp_path / "_config.yml").write_text("title: t\n")
    (tmp_path / "_toc.yml").write_text("root: index\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GENMODELS_BOOK_ROOT", raising=False)
    codes, labels = torch.randn(50, 2), torch.arange(50) % 10
    widget = latent_explorer(vae, codes, labels, lim=2.0)
    assert widget.lim == 2.0 and len(widget.codes) == 50 and widget.labels[:3] == [0, 1, 2]
    assert "arrow keys" in widget.caption                                             # the text alternative
    model = tmp_path / "_build" / "assets" / "explorers" / widget.decoder_file
    assert model.is_file() and (model.parent / widget.encoder_file).is_file()
    check = json.loads((tmp_path / "_build" / "explorer-checks" / model.name.replace(".onnx", ".json")).read_text())
    points = torch.tensor(check["points"])
    assert points.abs().max() <= 2.0 and len(points) >= 10
    (x,) = _run_onnx(model.read_bytes(), z=points)                                    # the file the page loads
    assert np.abs(x - np.array(check["pixels"])).max() <= 1e-5
    with torch.no_grad():
        assert np.allclose(check["pixels"], torch.sigmoid(vae.decode(points)).numpy(), atol=1e-6)
        mu, logvar = vae.encode(torch.tensor(check["digits"]))
    assert np.allclose(check["mu"], mu.numpy(), atol=1e-6) and np.allclose(check["logvar"], logvar.numpy(), atol=1e-6)
    assert "Draw a digit" in widget.caption


def test_latent_plane_outside_a_book_writes_nothing_and_serves_the_kernel(vae, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GENMODELS_BOOK_ROOT", raising=False)
    widget = latent_explorer(vae, torch.zeros(3, 2), torch.zeros(3))
    assert widget.decoder_file == "" and not any(tmp_path.iterdir())
    buffers = _assets_sent(widget, monkeypatch)
    assert buffers[2:] == [b"ort", b"wasm"]
    assert buffers[0] == widget._onnx["decoder"] and buffers[0][:1] == b"\x08"   # ONNX protobuf: ir_version first


@pytest.mark.parametrize("widget", ["LatentPlane", "ConditionalPad", "DiffusionSteps", "StyleMixing"])
def test_front_end_is_the_shared_runtime_plus_its_own_module_with_no_name_twice(widget):
    import re
    import shutil
    import subprocess

    esm = getattr(explorers, widget)._esm
    assert esm.startswith((explorers.ASSETS / "runtime.js").read_text())              # one loader for every explorer
    names = re.findall(r"^(?:async )?function (\w+)|^const (\w+)", esm, flags=re.M)
    names = [a or b for a, b in names]
    assert "loadRuntime" in names and sorted(set(names)) == sorted(names), f"declared twice: {names}"
    if shutil.which("node"):                                  # the page parses it as one ES module
        result = subprocess.run(["node", "--input-type=module", "--check"], input=esm, text=True,
                                capture_output=True)
        assert result.returncode == 0, result.stderr[-500:]


def test_path_points_are_evenly_spaced_from_end_to_end():
    a, b = torch.tensor([-1.5, 0.25]), torch.tensor([2.0, -1.0])
    points = explorers.path_points(a, b, 8)
    assert points.shape == (8, 2) and torch.equal(points[0], a) and torch.equal(points[-1], b)
    steps = points.diff(dim=0)
    assert torch.allclose(steps, ((b - a) / 7).expand(7, 2), atol=1e-6)               # equal steps on one line
    with pytest.raises(ValueError, match="at least 2 frames"):
        explorers.path_points(a, b, 1)


def test_default_path_joins_two_classes_far_apart_on_the_plane():
    codes = torch.tensor([[5.0, 5.0], [0.0, 0.0], [0.5, 0.0], [-2.0, 1.0], [2.0, 2.0], [-2.4, -2.4]])
    labels = torch.tensor([3, 1, 1, 7, 1, 2])
    first, last = explorers.default_path(codes, labels, lim=2.5)
    assert first == 1                                     # code 0 lies off the plane [-2.5, 2.5]^2
    assert last == 5                                      # farthest other-class code from (0, 0): (-2.4, -2.4)
    assert explorers.default_path(codes, torch.ones(6, dtype=torch.long), lim=2.5) is None


def test_latent_plane_path_mode_starts_on_two_test_codes_and_checks_its_line(vae, tmp_path, monkeypatch):
    (tmp_path / "_config.yml").write_text("title: t\n")
    (tmp_path / "_toc.yml").write_text("root: index\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GENMODELS_BOOK_ROOT", raising=False)
    codes, labels = torch.randn(40, 2, generator=torch.Generator().manual_seed(3)), torch.arange(40) % 10
    widget = latent_explorer(vae, codes, labels, lim=2.5, frames=6)
    assert widget.frames == 6 and widget.path_mode is False and "Path mode" in widget.caption
    a, b = widget.path
    assert a in widget.codes and b in widget.codes and a != b                           # two test digits' codes
    check = json.loads((tmp_path / "_build" / "explorer-checks" /
                        widget.decoder_file.replace(".onnx", ".json")).read_text())
    assert check["path"]["ends"] == [a, b] and len(check["path"]["pixels"]) == 6
    with torch.no_grad():
        line = torch.sigmoid(vae.decode(torch.tensor([a]) + torch.linspace(0, 1, 6)[:, None] *
                                        (torch.tensor([b]) - torch.tensor([a])))).flatten(1)
    assert np.abs(np.array(check["path"]["pixels"]) - line.numpy()).max() <= 1e-5
    assert np.abs(np.array(check["path"]["pixels"][0]) - np.array(check["path"]["pixels"][-1])).max() > 1e-3
    with pytest.raises(ValueError, match="frames"):
        latent_explorer(vae, codes, labels, frames=1)


def test_latent_plane_rejects_codes_that_are_not_2d(vae):
    with pytest.raises(ValueError, match=r"codes \(N, 2\)"):
        latent_explorer(vae, torch.zeros(5, 3), torch.zeros(5))
    with pytest.raises(TypeError, match="encode"):
        latent_explorer(torch.nn.Linear(2, 2), torch.zeros(5, 2), torch.zeros(5))


# ------------------------------------------------------------------ the conditional explorer (CVAE, cGAN)
from genmodels.models import GAN, CGANConfig, ConditionalVAE, CVAEConfig  # noqa: E402
from genmodels.widgets import cgan_explorer, cvae_explorer  # noqa: E402


def _book(tmp_path, monkeypatch):
    (tmp_path / "_config.yml").write_text("title: t\n")
    (tmp_path / "_toc.yml").write_text("root: index\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GENMODELS_BOOK_ROOT", raising=False)
    return tmp_path / "_build"


def test_cvae_decoder_export_matches_pytorch_on_random_codes_and_labels(tmp_path, monkeypatch):
    build = _book(tmp_path, monkeypatch)
    torch.manual_seed(0)
    cvae = ConditionalVAE(CVAEConfig(latent_dim=2)).eval()
    widget = cvae_explorer(cvae, lim=2.0)
    onnx = (build / "assets" / "explorers" / widget.decoder_file).read_bytes()
    z = torch.randn(40, 2, generator=torch.Generator().manual_seed(1)) * 2
    y = torch.arange(40) % 10
    (x,) = _run_onnx(onnx, z=z, y=y.float())
    with torch.no_grad():
        expected = torch.sigmoid(cvae.decode(z, y))
    assert x.shape == (40, 784) and np.abs(x - expected.numpy()).max() <= 1e-5
    assert widget.base == [0.0, 0.0] and widget.dims == [0, 1] and "number keys" in widget.caption
    check = json.loads((build / "explorer-checks" / widget.decoder_file.replace(".onnx", ".json")).read_text())
    with torch.no_grad():
        again = torch.sigmoid(cvae.decode(torch.tensor(check["points"]), torch.tensor(check["labels"]).long()))
    assert np.allclose(check["pixels"], again.numpy(), atol=1e-6) and len(set(check["labels"])) == 10


def test_cgan_generator_export_matches_pytorch_in_eval_mode(tmp_path, monkeypatch):
    build = _book(tmp_path, monkeypatch)
    torch.manual_seed(0)
    gan = GAN(CGANConfig(latent_dim=16, channels=4))
    gan.generator.body.project[1].running_mean.normal_()           # batch norm's statistics must be the eval ones
    gan.eval()
    z0 = torch.randn(16)
    widget = cgan_explorer(gan.generator, z0, lim=2.5, dims=(3, 7))
    assert gan.generator.training is False and widget.dims == [3, 7] and "new noise" in widget.caption
    onnx = (build / "assets" / "explorers" / widget.decoder_file).read_bytes()
    z, y = torch.randn(24, 16, generator=torch.Generator().manual_seed(2)), torch.arange(24) % 10
    (x,) = _run_onnx(onnx, z=z, y=y.float())
    with torch.no_grad():
        expected = gan.generator(z, y).flatten(1)
    assert np.abs(x - expected.numpy()).max() <= 1e-5
    check = json.loads((build / "explorer-checks" / widget.decoder_file.replace(".onnx", ".json")).read_text())
    points = torch.tensor(check["points"])
    assert points[:8, 3].abs().max() <= 2.5 and torch.equal(points[:8, 0], z0[0].repeat(8))   # the pad moves 3, 7
    with torch.no_grad():                                     # the check's pixels: eval-mode batch norm too
        truth = gan.generator(points, torch.tensor(check["labels"]).long()).flatten(1)
    assert np.allclose(check["pixels"], truth.numpy(), atol=1e-6)


def test_conditional_explorer_serves_the_kernel_and_rejects_bad_dims(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GENMODELS_BOOK_ROOT", raising=False)
    gan = GAN(CGANConfig(latent_dim=8, channels=2)).eval()
    widget = cgan_explorer(gan.generator, torch.zeros(8))
    assert widget.decoder_file == "" and not any(tmp_path.iterdir())
    buffers = _assets_sent(widget, monkeypatch)                    # the one-network widgets' too
    assert buffers[1:] == [b"ort", b"wasm"] and buffers[0][:1] == b"\x08"
    with pytest.raises(ValueError, match="two different coordinates"):
        cgan_explorer(gan.generator, torch.zeros(8), dims=(2, 2))
    with pytest.raises(TypeError, match="decode"):
        cvae_explorer(torch.nn.Linear(2, 2))


# ------------------------------------------------------------------ the diffusion explorer (chapter 12)
from genmodels.models.diffusion import DigitDenoiser, DigitDenoiserConfig, NoiseSchedule, ddim_sample, guided  # noqa: E402


def test_ddim_step_export_runs_the_guided_clipped_process_as_ddim_sample_does(tmp_path, monkeypatch):
    build = _book(tmp_path, monkeypatch)
    torch.manual_seed(0)
    denoiser = DigitDenoiser(DigitDenoiserConfig(hidden=64, num_blocks=2)).eval()
    torch.nn.init.normal_(denoiser.skip_gain.weight, std=0.1)                 # not the zero start: a real skip
    schedule = NoiseSchedule(1000)
    x_T = torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    widget = explorers.diffusion_steps(denoiser, schedule, x_T, label=7, guidance=2.0, clip_x0=1.0, num_steps=10)
    with torch.no_grad():
        final, path = ddim_sample(guided(denoiser, 2.0, 10), schedule, (1, 1, 28, 28), torch.tensor([7]),
                                  num_steps=10, x_T=x_T, clip_x0=1.0, return_path=True)
    assert widget.times == [1000, 900, 800, 700, 600, 500, 400, 300, 200, 100, 0] and widget.label == 7
    check = json.loads((build / "explorer-checks" / widget.step_file.replace(".onnx", ".json")).read_text())
    assert np.abs(np.array(check["path"]) - torch.cat(path).flatten(1).numpy()).max() <= 1e-5   # = ddim_sample
    onnx = (build / "assets" / "explorers" / widget.step_file).read_bytes()
    x = x_T.reshape(1, 784)
    for t, s, expected in zip(widget.times[:-1], widget.times[1:], path[1:]):    # the file the page runs, step by step
        x, x0 = _run_onnx(onnx, x=x, t=torch.tensor([float(t)]), s=torch.tensor([float(s)]), y=torch.tensor([7.0]))
        assert np.abs(x - expected.reshape(1, 784).numpy()).max() <= 1e-4 and np.abs(x0).max() <= 1.0
        x = torch.from_numpy(x)
    assert np.abs(check["guesses"][-1] - x0[0]).max() <= 1e-4 and "number keys" in widget.caption
    assert _assets_sent(widget, monkeypatch) == [onnx, b"ort", b"wasm"]   # Jupyter: the network and the runtime
    with pytest.raises(ValueError, match="784 numbers"):
        explorers.diffusion_steps(denoiser, schedule, torch.zeros(10))


# ------------------------------------------------------------------ the style-mixing explorer (chapter 11)
import dataclasses  # noqa: E402

from genmodels.models import StyleGAN, StyleGANConfig, make_noise  # noqa: E402
from genmodels.widgets import style_mixing_explorer  # noqa: E402

NO_NOISE = [{"noise_inputs": False}] if "noise_inputs" in {f.name for f in dataclasses.fields(StyleGANConfig)} else []


@pytest.mark.parametrize("flags", [{}, *NO_NOISE])
def test_style_mixer_export_matches_synthesize_on_random_codes_masks_and_noise(tmp_path, monkeypatch, flags):
    build = _book(tmp_path, monkeypatch)
    torch.manual_seed(0)
    G = StyleGAN(StyleGANConfig(latent_dim=8, w_dim=16, channels=(8, 4, 4), **flags)).generator.eval()
    for layer in G.layers:                                        # not the zero start: the noise must show
        if getattr(layer, "noise", None) is not None:
            torch.nn.init.normal_(layer.noise.weight, std=0.5)
    z_a, z_b = torch.randn(3, 8), torch.randn(4, 8)
    widget = style_mixing_explorer(G, z_a, z_b, make_noise(1, torch.Generator().manual_seed(1)))
    onnx = (build / "assets" / "explorers" / widget.mixer_file).read_bytes()
    gen = torch.Generator().manual_seed(2)
    a, b, n = torch.randn(5, 8, generator=gen), torch.randn(5, 8, generator=gen), torch.randn(5, 2058, generator=gen)
    from_b = torch.rand(5, 6, generator=gen) > 0.5                  # any batch size, any mask
    feeds = {"z_a": a, "z_b": b, "from_b": from_b.float(), "noise": n}
    ort = pytest.importorskip("onnxruntime")
    names = [i.name for i in ort.InferenceSession(onnx, providers=["CPUExecutionProvider"]).get_inputs()]
    (x,) = _run_onnx(onnx, **{k: v for k, v in feeds.items() if k in names})
    with torch.no_grad():
        noise = [m.reshape(5, 1, r, r) for m, r in
                 zip(n.split([49, 49, 196, 196, 784, 784], 1), (7, 7, 14, 14, 28, 28))]
        expected = G.synthesize(G.mix_styles(G.mapping(a), G.mapping(b), from_b), noise).flatten(1)
    assert x.shape == (5, 784) and np.abs(x - expected.numpy()).max() <= 1e-5
    check = json.loads((build / "explorer-checks" / widget.mixer_file.replace(".onnx", ".json")).read_text())
    assert len(check["pixels"]) == 10 and widget.crossovers[1] == ["28x28 (fine)", 4] and "R key" in widget.caption
    rows = {k: torch.tensor(check[k])[[c[i] for c in check["cases"]]] for i, k in enumerate(("z_a", "z_b"))}
    (x,) = _run_onnx(onnx, **{k: torch.tensor(check[k]) for k in ("from_b", "noise") if k in names}, **rows)
    assert np.abs(x - np.array(check["pixels"])).max() <= 1e-5
    assert _assets_sent(widget, monkeypatch) == [onnx, b"ort", b"wasm"]   # Jupyter: the network and the runtime
    with pytest.raises(ValueError, match="one \\(1, 1, r, r\\) image per layer"):
        style_mixing_explorer(G, z_a, z_b, make_noise(1)[:5])
