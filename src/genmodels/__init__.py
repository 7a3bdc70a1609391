"""genmodels: the shared PyTorch package of the Generative Networks course.

Each chapter teaches a piece in full once, then imports it from here. Modules, in import order:
``data``, ``models``, ``losses`` -> ``training`` (``recipes``, ``gan_training``, ``paired_training``,
``checkpoints``) -> ``metrics`` (-> ``toy_gans``, chapter 5's monitored toy runs) -> ``plotting`` -> ``widgets``.
Every chapter starts with ``device = setup_chapter(seed=0)``.
"""

from .budget import is_quick, steps
from .errors import (
    BudgetError,
    CheckpointError,
    DataUnavailableError,
    GenmodelsError,
    TrainingDivergedError,
)
from .runtime import get_device, seed_everything, setup_chapter

__version__ = "0.1.0"

__all__ = [
    "setup_chapter",
    "get_device",
    "seed_everything",
    "is_quick",
    "steps",
    "GenmodelsError",
    "BudgetError",
    "CheckpointError",
    "DataUnavailableError",
    "TrainingDivergedError",
]
