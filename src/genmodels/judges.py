"""The digit classifier of chapter 1, trained once per budget and cached.

Later chapters use it as the judge of generated digits: is a sample recognised as the label it was asked
for? Chapter 1 explains why that alone is not enough (the blue dog).
"""

from __future__ import annotations

import torch

from .budget import steps
from .checkpoints import cached_model
from .data import DigitData
from .models import ClassifierConfig, DigitClassifier, classifier_loss
from .recipes import CLASSIFIER_RECIPE
from .training import History, fit

__all__ = ["load_digit_classifier"]


def load_digit_classifier(
    data: DigitData, device: torch.device | str | None = None, *, config: ClassifierConfig | None = None
) -> tuple[DigitClassifier, History]:
    """The CNN p(y | x) trained on ``data.x_train`` for ``steps("ch01.classifier")`` steps (chapter 1).

    Trained on first use under the current budget (:data:`genmodels.recipes.CLASSIFIER_RECIPE`), then loaded
    from the checkpoint cache. Returns the model in eval mode on ``device`` and its training history.
    """
    config = config or ClassifierConfig()
    recipe, num_steps = CLASSIFIER_RECIPE, steps("ch01.classifier")
    device = device or data.x_train.device
    x, y = data.x_train.to(device), data.y_train.to(device)

    def train(model: DigitClassifier) -> History:
        return fit(model, classifier_loss, recipe.batches(x, y), num_steps, desc="classifier p(y|x)",
                   **recipe.train_args)

    return cached_model("digit-classifier", lambda: DigitClassifier(config).to(device), train, recipe, num_steps,
                        data=data.source, num_train=len(data.x_train))
