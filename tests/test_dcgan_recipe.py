"""`python -m genmodels train dcgan` trains chapter 4's DCGAN: the same networks and the paper's recipe."""

import torch

from genmodels import registry
from genmodels.models import GAN, CGANConfig, DCGANConfig
from genmodels.recipes import DCGAN_DIGITS, DCGAN_RECIPE, IMAGE_RECIPE


def test_cli_dcgan_is_the_chapter_dcgan():
    config = registry.MODELS["dcgan"].default_config("mnist")
    assert config == DCGANConfig(**DCGAN_DIGITS).to_dict()
    model = registry.MODELS["dcgan"].build(config)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.discriminator.modules())  # the paper's D


def test_cli_trains_the_dcgan_with_the_paper_recipe_and_the_cgan_with_its_own(monkeypatch):
    seen = {}

    def fake_train_gan(generator, discriminator, batches, num_steps, **kwargs):
        seen["batch"], seen["kwargs"] = len(next(batches)[0]), kwargs

    monkeypatch.setattr(registry, "train_gan", fake_train_gan)
    x, y = torch.rand(200, 1, 28, 28), torch.randint(10, (200,))
    registry._gan_train(GAN(DCGANConfig(**DCGAN_DIGITS)), "mnist", x, y, 1)
    assert seen["batch"] == DCGAN_RECIPE.batch_size
    assert seen["kwargs"]["lr_g"] == seen["kwargs"]["lr_d"] == 3e-4 and seen["kwargs"]["betas"] == (0.5, 0.999)
    assert seen["kwargs"]["r1_gamma"] == 0.1
    assert not seen["kwargs"].get("decay_lr", False)
    registry._gan_train(GAN(CGANConfig()), "mnist", x, y, 1)
    assert seen["kwargs"]["lr_g"] == IMAGE_RECIPE.train_args["lr_g"]
