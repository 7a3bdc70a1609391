"""Label conditioning end to end: ``genmodels sample CKPT --label 7`` must give digits that the judge reads as 7s.

For the conditional VAE, the conditional GAN and the AC-GAN, a checkpoint like the one ``genmodels train`` writes
holds a generator fitted in a couple of seconds by plain regression: G(z, y) -> the mean training digit of class y. Such a
generator draws a recognisable digit of every class *if* the label reaches it, so the samples the command line
writes for ``--label 7`` (and ``--label 3``) must be read as that digit by the chapter-1 classifier. A sampler
or a generator that drops the label gives the average digit of some other class, or of all of them, and fails.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from genmodels.checkpoints import save_checkpoint
from genmodels.cli import main
from genmodels.judges import load_digit_classifier
from genmodels.metrics import accuracy
from genmodels.registry import MODELS
from genmodels.training import History


def _fit_to_class_means(name: str, model: torch.nn.Module, means: torch.Tensor) -> None:
    """Regress the generator of ``model`` onto the class means (10, 1, 28, 28): G(z, y) ~ means[y]."""
    gen = torch.Generator().manual_seed(0)
    if name == "cvae":
        params, latent_dim = model.decoder.parameters(), model.config.latent_dim
    else:
        params, latent_dim = model.generator.parameters(), model.config.latent_dim
    optimizer = torch.optim.Adam(params, lr=3e-3)
    model.train()
    for _ in range(120):
        y = torch.randint(10, (60,), generator=gen)
        z = torch.randn(60, latent_dim, generator=gen)
        target = means[y]
        if name == "cvae":
            loss = F.binary_cross_entropy_with_logits(model.decode(z, y), target.flatten(1))
        elif name == "acgan":
            a = torch.randn(60, model.config.num_attributes, generator=gen).clamp(-2, 2)
            loss = F.mse_loss(model.generator(z, y, a), target)
        else:
            loss = F.mse_loss(model.generator(z, y), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()


@pytest.mark.parametrize("name", ["cvae", "cgan", "acgan"])
def test_sampling_with_a_label_draws_that_digit(name, mnist, tmp_path):
    judge, _ = load_digit_classifier(mnist)
    spec = MODELS[name]
    config = spec.default_config("mnist")
    model = spec.build(config)
    torch.manual_seed(0)
    means = torch.stack([mnist.x_train[mnist.y_train == k].mean(0) for k in range(10)])  # (10, 1, 28, 28)
    _fit_to_class_means(name, model, means)
    ckpt = tmp_path / f"{name}.pt"  # what `genmodels train` writes, with the fitted weights
    save_checkpoint(ckpt, {"model": name, "data": "mnist", "config": config, "steps": 120, "seed": 0,
                           "budget": "quick", "sample_shape": [1, 28, 28],
                           "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
                           "history": History().state_dict()})
    for label in (7, 3):
        out = tmp_path / f"{label}.npy"
        assert main(["sample", str(ckpt), "-n", "40", "--label", str(label), "--out", str(out), "--device", "cpu"]) == 0
        samples = torch.from_numpy(np.load(out))
        assert samples.shape == (40, 1, 28, 28)
        read_as_label = accuracy(judge, samples, torch.full((40,), label))
        assert read_as_label >= 0.9, (name, label, read_as_label)
