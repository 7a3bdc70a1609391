"""The digit classifier of chapter 1, trained once per budget and cached.

Later chapters use it as the judge of generated digits: is a sample recognised as the label it was asked
for? Chapter 1 explains why that alone is not enough (the blue dog).
"""

from __future__ import annotations

from dataclasses import asdict

import torch

from .budget import steps
from .checkpoints import load_or_train
from .data import DigitData, infinite_minibatches
from .models import ClassifierConfig, DigitClassifier, classifier_loss
from .runtime import seed_everything
from .training import History, fit

__all__ = ["CLASSIFIER_RECIPE", "load_digit_classifier"]

CLASSIFIER_RECIPE = {"batch_size": 128, "lr": 1e-3, "seed": 0}


def load_digit_classifier(
    data: DigitData, device: torch.device | str | None = None, *, config: ClassifierConfig | None = None
) -> tuple[DigitClassifier, History]:
    """The CNN p(y | x) trained on ``data.x_train`` for ``steps("ch01.classifier")`` steps (chapter 1).

    Trained on first use under the current budget, then loaded from the checkpoint cache.
    Returns the model in eval mode on ``device`` and its training history.
    """
    config = config or ClassifierConfig()
    recipe = {**CLASSIFIER_RECIPE, "num_steps": steps("ch01.classifier")}
    seed_everything(recipe["seed"])
    model = DigitClassifier(config).to(device or data.x_train.device)
    x, y = data.x_train.to(next(model.parameters()).device), data.y_train.to(next(model.parameters()).device)

    def train(model: DigitClassifier) -> History:
        batches = infinite_minibatches(
            x, y, batch_size=recipe["batch_size"], generator=torch.Generator().manual_seed(recipe["seed"])
        )
        return fit(model, classifier_loss, batches, recipe["num_steps"], lr=recipe["lr"], desc="classifier p(y|x)")

    key = {"model": asdict(config), **recipe, "data": data.source, "num_train": len(data.x_train)}
    history = load_or_train("digit-classifier", model, train, config=key)
    return model.eval(), history
