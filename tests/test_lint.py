"""No unused imports and no undefined names, in the package, the tests, the benchmarks and every chapter's code.

A chapter's code cells are checked as one program, in order (that is how a fresh kernel runs them); IPython's
``%`` and ``!`` lines are left out, and so is the hidden install cell's ``import genmodels`` (it imports only to
see whether the package is installed).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyflakes.api import check, checkPath
from pyflakes.reporter import Reporter

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


class _Collect(Reporter):
    def __init__(self):
        self.messages: list[str] = []

    def unexpectedError(self, filename, message):
        self.messages.append(f"{filename}: {message}")

    def syntaxError(self, filename, message, lineno, offset, text):
        self.messages.append(f"{filename}:{lineno}: {message}")

    def flake(self, message):
        self.messages.append(str(message))


def chapter_code(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    code = "\n\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")
    return "\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!")))


def test_package_tests_and_benchmarks_are_clean():
    reporter = _Collect()
    for folder in ("src", "tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            checkPath(str(path), reporter)
    assert not reporter.messages, "\n".join(reporter.messages)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_code_is_clean(path):
    reporter = _Collect()
    check(chapter_code(path), path.name, reporter)
    messages = [m for m in reporter.messages if "'genmodels' imported but unused" not in m]
    assert not messages, "\n".join(messages)


def test_the_check_finds_an_unused_import_and_an_undefined_name():
    reporter = _Collect()
    check("import math\nprint(undefined_thing)\n", "example.py", reporter)
    assert any("'math' imported but unused" in m for m in reporter.messages)
    assert any("undefined name 'undefined_thing'" in m for m in reporter.messages)
