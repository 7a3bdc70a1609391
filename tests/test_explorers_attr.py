"""Chapter 8's live attribute explorer: the AC-GAN generator G(z, y, a) exported to ONNX agrees with PyTorch,
the pad moves the requested attributes (z fixed), and the build's check points are PyTorch's pictures."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("anywidget", reason="the live explorers need anywidget (requirements.txt)")
from genmodels.models import ACGAN, ACGANConfig  # noqa: E402
from genmodels.widgets import acgan_explorer  # noqa: E402
from test_explorers import _book  # noqa: E402  (a book root in tmp_path)


@pytest.fixture()
def generator():
    torch.manual_seed(0)
    acgan = ACGAN(ACGANConfig(latent_dim=16, channels=4))
    acgan.generator.body.project[1].running_mean.normal_()    # batch norm's statistics must be the eval ones
    return acgan.generator.eval()


def test_acgan_generator_export_matches_pytorch_on_random_codes_labels_and_attributes(generator, tmp_path,
                                                                                       monkeypatch):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime checks the export without a browser")
    build = _book(tmp_path, monkeypatch)
    z0 = torch.randn(16, generator=torch.Generator().manual_seed(7))
    widget = acgan_explorer(generator, z0, lim=1.5)
    assert widget.dims == [16, 17] and widget.axes == ["thickness", "slant"] and not widget.resample
    assert widget.base[:16] == [round(v, 5) for v in z0.tolist()] and widget.base[16:] == [0.0, 0.0]
    assert "thickness" in widget.caption and "arrow keys" in widget.caption and "number keys" in widget.caption
    onnx = (build / "assets" / "explorers" / widget.decoder_file).read_bytes()
    gen = torch.Generator().manual_seed(3)
    z, a, y = torch.randn(30, 16, generator=gen), (torch.rand(30, 2, generator=gen) * 2 - 1) * 1.5, torch.arange(30) % 10
    session = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    (x,) = session.run(None, {"z": torch.cat([z, a], 1).numpy(), "y": y.float().numpy()})
    with torch.no_grad():
        expected = generator(z, y, a).flatten(1)
    assert x.shape == (30, 784) and np.abs(x - expected.numpy()).max() <= 1e-5
    assert np.abs(x[:10] - x[10:20]).max() > 1e-3          # the attributes (and z) matter


def test_acgan_check_points_are_pytorch_pictures_on_the_pad_with_z_fixed(generator, tmp_path, monkeypatch):
    build = _book(tmp_path, monkeypatch)
    z0 = torch.randn(16, generator=torch.Generator().manual_seed(7))
    widget = acgan_explorer(generator, z0, lim=1.5)
    check = json.loads((build / "explorer-checks" / widget.decoder_file.replace(".onnx", ".json")).read_text())
    points, labels = torch.tensor(check["points"]), torch.tensor(check["labels"]).long()
    assert torch.allclose(points[:8, :16], z0.repeat(8, 1)) and points[:8, 16:].abs().max() <= 1.5
    assert len(set(points[:8, 16:].flatten().tolist())) > 8   # corners, centre and points between them
    with torch.no_grad():
        truth = generator(points[:, :16], labels, points[:, 16:]).flatten(1)
    assert np.allclose(check["pixels"], truth.numpy(), atol=1e-6) and len(set(check["labels"])) == 10


def test_acgan_explorer_rejects_other_than_two_attributes(generator):
    with pytest.raises(ValueError, match="two attributes"):
        acgan_explorer(generator, torch.zeros(16), attributes=("thickness",))
