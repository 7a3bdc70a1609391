"""The errors the course raises on bad input: each says what was wrong and how to fix it."""


class GenmodelsError(Exception):
    """Base class: the command line turns any of these into a one-line message and exit code 2."""


class DataUnavailableError(GenmodelsError):
    """A data set could not be loaded (for example the full MNIST without internet)."""


class CheckpointError(GenmodelsError):
    """A checkpoint is missing, unreadable, or does not fit the model it is loaded into."""


class TrainingDivergedError(GenmodelsError):
    """A loss became NaN or infinite, or exploded past its bound."""


class BudgetError(GenmodelsError):
    """An unknown budget name, or an unreadable GENMODELS_QUICK value."""
