"""genmodels: the shared PyTorch package of the Generative Networks course.

Each chapter teaches a piece in full once, then imports it from here. Modules, in import order:
``data``, ``models``, ``losses`` -> ``training``, ``checkpoints`` -> ``metrics`` -> ``plotting``.
"""

from .budget import is_quick, steps
from .errors import (
    BudgetError,
    CheckpointError,
    DataUnavailableError,
    GenmodelsError,
    TrainingDivergedError,
)
from .runtime import get_device, seed_everything

__version__ = "0.1.0"

__all__ = [
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
