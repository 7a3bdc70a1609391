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
    sent = []
    monkeypatch.setattr(explorers, "_runtime_buffers", lambda: [b"ort", b"wasm"])
    monkeypatch.setattr(widget, "send", lambda content, buffers=None: sent.append((content, buffers)))
    widget._answer(widget, {"kind": "assets"}, [])
    (content, buffers), = sent
    assert content == {"kind": "assets"} and buffers[2:] == [b"ort", b"wasm"]
    assert buffers[0] == widget._onnx["decoder"] and buffers[0][:1] == b"\x08"   # ONNX protobuf: ir_version first


def test_latent_plane_rejects_codes_that_are_not_2d(vae):
    with pytest.raises(ValueError, match=r"codes \(N, 2\)"):
        latent_explorer(vae, torch.zeros(5, 3), torch.zeros(5))
    with pytest.raises(TypeError, match="encode"):
        latent_explorer(torch.nn.Linear(2, 2), torch.zeros(5, 2), torch.zeros(5))
