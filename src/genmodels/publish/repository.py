"""The one repository setting, and the install cell it stamps into every chapter.

``_config.yml``'s ``repository: url / branch`` names where the course lives. Jupyter Book's launch buttons
(Binder, Colab) and its repository and issue buttons read it; so does the first code cell of every chapter,
which installs ``genmodels`` from there when it is missing (Colab) and does nothing but import otherwise::

    python -m genmodels.publish.repository                    # stamp the install cells from _config.yml
    python -m genmodels.publish.repository --set URL [--branch B]   # a fork: new setting, cells re-stamped
    python -m genmodels.publish.repository --check            # exit 1 if a chapter disagrees with _config.yml

Stamping is idempotent: run it again after editing a chapter. The cell is tagged ``remove-cell``, so the book
and the slides leave it out.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

__all__ = ["read_setting", "write_setting", "install_cell_source", "stamp", "check", "main"]

CELL_ID = "install-genmodels"
TAGS = ["remove-cell", CELL_ID]
_BLOCK = re.compile(r"^repository:[ \t]*\n((?:[ \t]+.*\n|[ \t]*\n)*)", re.MULTILINE)


def _key(block: str, key: str) -> re.Match | None:
    return re.search(rf"^([ \t]+{key}:[ \t]*)([^\s#]+)(.*)$", block, re.MULTILINE)


def read_setting(config: Path) -> tuple[str, str]:
    """``(url, branch)`` of ``_config.yml``'s ``repository`` block."""
    block = _BLOCK.search(config.read_text(encoding="utf-8"))
    url, branch = (_key(block.group(1), k) if block else None for k in ("url", "branch"))
    if url is None or branch is None:
        raise SystemExit(f"{config}: no `repository:` block with `url:` and `branch:`; add one (see README)")
    return url.group(2), branch.group(2)


def write_setting(config: Path, url: str, branch: str) -> None:
    """Rewrite the url and branch of ``_config.yml``'s ``repository`` block in place (comments kept)."""
    read_setting(config)  # the block exists
    text = config.read_text(encoding="utf-8")
    block = _BLOCK.search(text)
    body = block.group(1)
    for key, value in (("url", url), ("branch", branch)):
        body = _key(body, key).re.sub(lambda m, v=value: f"{m.group(1)}{v}{m.group(3)}", body, count=1)
    config.write_text(text[: block.start(1)] + body + text[block.end(1) :], encoding="utf-8")


def install_cell_source(url: str, branch: str) -> str:
    """The chapters' first code cell: import genmodels, or install it from ``url`` at ``branch`` first."""
    return (
        "# Colab or a fresh machine: install the course package `genmodels` when it is missing.\n"
        f"# Written by `python -m genmodels.publish.repository` from _config.yml; the book hides this cell.\n"
        "try:\n"
        "    import genmodels\n"
        "except ImportError:\n"
        f'    %pip install --quiet "genmodels @ git+{url}@{branch}"\n'
        "    import genmodels"
    )


def _cell(source: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "id": CELL_ID, "metadata": {"tags": list(TAGS)},
            "outputs": [], "source": source.splitlines(keepends=True)}


def _stamped(notebook: dict, source: str) -> dict:
    """``notebook`` with exactly one install cell, right before its first other code cell."""
    cells = [c for c in notebook["cells"] if c.get("id") != CELL_ID]
    first_code = next((i for i, c in enumerate(cells) if c["cell_type"] == "code"), len(cells))
    return {**notebook, "cells": cells[:first_code] + [_cell(source)] + cells[first_code:]}


def _chapters(root: Path) -> list[Path]:
    return sorted((root / "chapters").glob("*.ipynb"))


def stamp(root: Path) -> list[Path]:
    """Write the install cell of ``_config.yml``'s setting into every chapter; return the chapters changed."""
    source = install_cell_source(*read_setting(root / "_config.yml"))
    changed = []
    for path in _chapters(root):
        text = path.read_text(encoding="utf-8")
        new = json.dumps(_stamped(json.loads(text), source), indent=1, ensure_ascii=False) + "\n"
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


def check(root: Path) -> list[str]:
    """One line per chapter whose install cell is missing, misplaced or names another repository."""
    source = install_cell_source(*read_setting(root / "_config.yml"))
    problems = []
    for path in _chapters(root):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        if notebook != _stamped(notebook, source):
            problems.append(f"{path.relative_to(root)}: its first code cell is not the install cell of _config.yml's "
                            "repository")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genmodels.publish.repository", description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", metavar="URL", help="the course's repository, e.g. https://github.com/you/course")
    parser.add_argument("--branch", help="its branch (default: keep the current one)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a chapter disagrees")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the book's root (default: here)")
    args = parser.parse_args(argv)
    config = args.root / "_config.yml"
    if not config.is_file():
        parser.error(f"no _config.yml in {args.root}: run from the repository root or pass --root")
    if args.check:
        if args.set or args.branch:
            parser.error("--check changes nothing: drop --set and --branch")
        problems = check(args.root)
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            print(f"run `python -m genmodels.publish.repository` to re-stamp {len(problems)} chapter(s)", file=sys.stderr)
        return 1 if problems else 0
    if args.set or args.branch:
        url, branch = read_setting(config)
        url = args.set or url
        if not re.fullmatch(r"https://\S+", url):
            parser.error(f"--set takes the repository's https URL, got {url!r}")
        write_setting(config, url.rstrip("/"), args.branch or branch)
    changed = stamp(args.root)
    url, branch = read_setting(config)
    print(f"repository {url} @ {branch}; install cells updated in {len(changed)} chapter(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
