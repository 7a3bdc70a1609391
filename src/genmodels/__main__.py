"""``python -m genmodels``: see :mod:`genmodels.cli`."""

import sys

from .cli import main

sys.exit(main())
