"""The discriminative model of chapter 1: a small CNN for p(y | x).

Later chapters reuse it as the judge of generated digits (accuracy per requested label, and its
penultimate features for a Fréchet distance).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .config import Config

__all__ = ["ClassifierConfig", "DigitClassifier", "classifier_loss"]


@dataclass
class ClassifierConfig(Config):
    num_classes: int = 10
    channels: tuple[int, int] = (16, 32)
    feature_dim: int = 128
    dropout: float = 0.25


class DigitClassifier(nn.Module):
    """conv-pool-conv-pool-MLP on (B, 1, 28, 28) images; ``forward`` returns logits (B, num_classes)."""

    def __init__(self, config: ClassifierConfig | None = None):
        super().__init__()
        self.config = config = config or ClassifierConfig()
        c1, c2 = config.channels
        self.conv = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, c1, 14, 14)
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, c2, 7, 7)
        )
        self.fc = nn.Sequential(nn.Flatten(), nn.Dropout(config.dropout), nn.Linear(c2 * 7 * 7, config.feature_dim), nn.ReLU())
        self.head = nn.Linear(config.feature_dim, config.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations (B, feature_dim): the space a Fréchet distance is measured in."""
        return self.fc(self.conv(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def classifier_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Cross-entropy -log p(y | x), averaged over the batch, and the batch accuracy."""
    logits = model(x)
    return {"loss": F.cross_entropy(logits, y), "accuracy": (logits.argmax(1) == y).float().mean()}
