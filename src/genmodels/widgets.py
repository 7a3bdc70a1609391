"""ipywidgets explorers that also work in the static book.

Python callbacks need a live kernel; links made with ``jslink`` run in the browser. So the explorers
here precompute their pictures and switch between them with ``jslink``: they respond in Jupyter, in the
published HTML book, and without any kernel.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt

__all__ = ["figure_to_png", "picture_picker"]


def figure_to_png(fig: plt.Figure, dpi: int = 80) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it (so it is not also shown inline)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def picture_picker(pictures: Sequence[bytes], options: Sequence[str], description: str = "") -> widgets.VBox:
    """Toggle buttons that show one of several precomputed PNG pictures; kernel-free via ``jslink``."""
    if len(pictures) != len(options) or not pictures:
        raise ValueError(f"need one picture per option, got {len(pictures)} pictures for {len(options)} options")
    buttons = widgets.ToggleButtons(options=list(options), description=description, style={"button_width": "2.5em"})
    stack = widgets.Stack([widgets.Image(value=p, format="png") for p in pictures], selected_index=0)
    widgets.jslink((buttons, "index"), (stack, "selected_index"))
    return widgets.VBox([buttons, stack])
