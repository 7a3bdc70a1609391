"""A chapter's prefetch cell (genmodels.prefetch) repeats training calls that later cells make; if the two drifted
apart, the prefetched model would land under another cache key and the cell would train its own again (twice the
time, silently). Every call a prefetch cell copies must still appear, word for word, in a later cell."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COPYING = ["03_variational_autoencoders"]   # chapters whose prefetch cell copies the calls of later cells


def _code_cells(stem: str) -> list[str]:
    cells = json.loads((ROOT / "chapters" / f"{stem}.ipynb").read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def _copied_calls(source: str, function: str) -> list[str]:
    """The source text of every call of ``function`` inside the ``prefetch(...)`` call of ``source``."""
    prefetch_call = next(node for node in ast.walk(ast.parse(source))
                         if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "prefetch")
    return [ast.get_source_segment(source, node) for node in ast.walk(prefetch_call)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == function]


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("stem", COPYING)
def test_every_prefetched_call_is_the_call_a_later_cell_makes(stem):
    cells = _code_cells(stem)
    index = next(i for i, source in enumerate(cells) if re.search(r"^prefetch\(", source, re.M))
    calls = _copied_calls(cells[index], "train_cached")
    assert len(calls) >= 5, f"{stem}: expected the chapter's training calls in its prefetch cell, found {len(calls)}"
    later = [_squeeze(source) for source in cells[index + 1:]]
    for call in calls:
        assert any(_squeeze(call) in source for source in later), f"{stem}: no later cell makes the call {call}"
    # a comprehension over values ("for beta in [0.25, 1.0, 4.0]") must loop over the same values later
    for name, values in re.findall(r"for (\w+) in (\[[^\]]*\])", cells[index]):
        assert any(f"{name}s={_squeeze(values)}" in source for source in later), \
            f"{stem}: the prefetch cell's {name} values {values} are not the later cell's"
    assert "load_digit_classifier(mnist, device)" in cells[index], f"{stem}: the judge is trained beside the models"


def test_the_check_catches_a_changed_call():
    source = 'prefetch(lambda: train_cached("m", A, lr=1e-3), device=device)'
    later = _squeeze('model = train_cached("m", A, lr=2e-3)')
    (call,) = _copied_calls(source, "train_cached")
    assert _squeeze(call) not in later
