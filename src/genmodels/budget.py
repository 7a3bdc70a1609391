"""Quick and full budgets: every step count of every chapter lives in the table below.

``GENMODELS_QUICK=1`` (on under the tests and CI) selects the quick column: fewer steps, never fewer
lessons, never a skipped cell. Without it a learner and the published book get the full column.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import BudgetError

__all__ = ["Budget", "BUDGETS", "is_quick", "steps", "mode"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class Budget:
    """A count for the full course and for the quick run under tests."""

    full: int
    quick: int
    what: str = ""


# One place for every chapter's counts (optimizer steps unless `what` says otherwise).
BUDGETS: dict[str, Budget] = {
    "ch01.classifier": Budget(full=1500, quick=300, what="classifier p(y|x) steps"),
    "ch01.fooling": Budget(full=200, quick=60, what="gradient-ascent steps of the fooling images"),
    "cli.gaussian": Budget(full=1, quick=1, what="the class-conditional Gaussian is fitted in closed form"),
    "cli.classifier": Budget(full=1500, quick=300),
    "cli.vae": Budget(full=3600, quick=300),
    "bench.vae_epochs": Budget(full=10, quick=2, what="epochs of the data-pipeline benchmark"),
}


def is_quick() -> bool:
    """True when ``GENMODELS_QUICK`` is set to 1/true/yes/on (read on every call)."""
    value = os.environ.get("GENMODELS_QUICK", "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BudgetError(f"GENMODELS_QUICK={value!r} is not understood; set it to 1 (quick) or 0 (full)")


def mode() -> str:
    """``"quick"`` or ``"full"``: part of every cache key, so the two budgets never share a checkpoint."""
    return "quick" if is_quick() else "full"


def steps(name: str) -> int:
    """The count named ``name`` for the current budget, e.g. ``steps("ch01.classifier")``."""
    try:
        budget = BUDGETS[name]
    except KeyError:
        known = ", ".join(sorted(BUDGETS))
        raise BudgetError(f"no budget named {name!r}; known budgets: {known}") from None
    return budget.quick if is_quick() else budget.full
