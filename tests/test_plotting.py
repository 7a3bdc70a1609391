"""Figures and players of genmodels.plotting."""

from __future__ import annotations

import torch

from genmodels.plotting import animate_toy_samples, animation_to_html


def test_animation_html_is_offline():
    """The chapter-5 animation player loads nothing from the internet and keeps every button."""
    frames = [torch.randn(20, 2, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    movie = animate_toy_samples(frames, torch.zeros(1, 2), ["a", "b", "c"])
    html = animation_to_html(movie, fps=3)
    plain = movie.to_jshtml(fps=3)
    assert "https://" in plain and "font-awesome" in plain  # what the helper has to remove
    assert "https://" not in html and 'class="fa' not in html
    assert html.count("<button") == plain.count("<button") == 9
    assert html.count("\u25b6") == 1 and html.count("\u23f8") == 1  # play and pause
