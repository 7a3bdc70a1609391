"""Lecture slides: every chapter of the book as a reveal.js deck (and a PDF handout), from the executed chapters.

    python -m genmodels.publish.slides          # after `jupyter-book build .`: _build/slides/index.html
    python -m genmodels.publish.slides --pdf    # the same, plus one PDF per deck in _build/slides/pdf/

The decks are made from ``_build/jupyter_execute/`` (the book's executed copies), so nothing trains twice and
the widget state of the explorers comes along: their sliders work in the slides too, with no kernel. What goes
on which slide is decided by :mod:`genmodels.publish.plan`; the look and the fitting of figures are the package
data files ``assets/deck.css`` and ``assets/deck.js``, the page the ``assets/deck.html.j2`` template (nbconvert's
reveal template, offline). reveal.js 5, MathJax 3, require.js and the widget manager are the files
:mod:`genmodels.publish.vendor` fetched; a deck loads nothing from the network. The PDF handouts are printed by
the Chromium of the browser test (:mod:`genmodels.publish.pdf`).
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import string
import sys
from importlib import resources
from pathlib import Path

from .myst import load_citations
from .plan import plan_slides
from ..npm import EXPLORERS_DEST
from .vendor import DEFAULT_DEST, vendor_assets

__all__ = ["chapter_sources", "executed_notebook", "exporter", "build_slides", "main"]

ASSETS = resources.files(__package__) / "assets"
DECK_FILES = ("deck.css", "deck.js")


def chapter_sources(root: Path) -> list[str]:
    """The table of contents' entries (``_toc.yml`` order) whose source is a notebook, e.g. ``chapters/01_x``."""
    import yaml

    def files(node) -> list[str]:
        if isinstance(node, dict):
            found = [node["file"]] if "file" in node else []
            return found + [f for key, value in node.items() if key != "file" for f in files(value)]
        if isinstance(node, list):
            return [f for item in node for f in files(item)]
        return []

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    entries = [toc["root"]] + files({k: v for k, v in toc.items() if k != "root"})
    return [str(Path(f).with_suffix("")) for f in entries if (root / Path(f).with_suffix(".ipynb")).is_file()]


def exporter():
    """nbconvert's reveal.js exporter with the offline template of ``assets/deck.html.j2``."""
    import jinja2
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    config = Config()
    options = config.SlidesExporter
    options.reveal_url_prefix = "vendor/reveal.js"
    options.reveal_theme = "white"
    options.require_js_url = "vendor/requirejs/require.js"
    options.mathjax_url = "vendor/mathjax/es5/tex-mml-chtml.js"
    options.widget_renderer_url = "vendor/html-manager/dist/embed-amd.js"
    options.exclude_input_prompt = True
    options.exclude_output_prompt = True
    options.exclude_anchor_links = True
    template = (ASSETS / "deck.html.j2").read_text(encoding="utf-8")
    slides = SlidesExporter(config=config, extra_loaders=[jinja2.DictLoader({"genmodels-deck.html.j2": template})])
    slides.template_file = "genmodels-deck.html.j2"
    return slides


def executed_notebook(root: Path, source: str):
    """The book's executed copy of a chapter, with its outputs and widget state.

    With ``execute_notebooks: force`` (this book) ``_build/jupyter_execute/`` holds the outputs. With
    ``cache``, myst-nb writes that copy without them, so they are merged in from the book's jupyter-cache.
    """
    import nbformat

    path = root / "_build" / "jupyter_execute" / f"{source}.ipynb"
    if not path.is_file():
        raise FileNotFoundError(f"no executed notebook {path}: build the book first (jupyter-book build .), "
                                "the slides reuse its executed notebooks")
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not code or any(c.get("outputs") for c in code):
        return nb
    cache = root / "_build" / ".jupyter_cache"
    try:
        from jupyter_cache import get_cache

        return get_cache(str(cache)).merge_match_into_notebook(nb)[1]
    except (ImportError, KeyError, OSError) as error:
        raise FileNotFoundError(f"{path} has no outputs and {cache} has no match for it ({error!r}): "
                                "rebuild the book") from error


def _title(nb, fallback: str) -> str:
    for cell in nb.cells:
        match = re.match(r"^#\s+(.*)$", cell.source.strip().splitlines()[0]) if cell.cell_type == "markdown" and cell.source.strip() else None
        if match:
            return match.group(1).strip()
    return fallback


def _index_page(decks: list[tuple[str, str, int]], book_title: str, pdf: bool) -> str:
    def item(name: str, title: str, count: int) -> str:
        handout = f' <a class="pdf" href="pdf/{html.escape(Path(name).stem)}.pdf">PDF</a>' if pdf else ""
        return f'  <li><a href="{html.escape(name)}">{html.escape(title)}</a>{handout} <span>{count} slides</span></li>'

    page = string.Template((ASSETS / "index.html").read_text(encoding="utf-8"))
    return page.substitute(title=html.escape(book_title), items="\n".join(item(*deck) for deck in decks))


def build_slides(root: str | Path = ".", out: str | Path | None = None, *, pdf: bool = False,
                 quiet: bool = False) -> list[Path]:
    """Write one deck per notebook chapter of ``_toc.yml`` and an index into ``out`` (default ``_build/slides``).

    With ``pdf``, also one PDF handout per deck in ``out/pdf/`` (one page per slide), linked from the index.
    """
    import yaml

    root = Path(root)
    out = Path(out) if out is not None else root / "_build" / "slides"
    notebooks = {source: executed_notebook(root, source) for source in chapter_sources(root)}
    vendor = root / DEFAULT_DEST
    vendor_assets(vendor, quiet=True)
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / "vendor", ignore_errors=True)
    shutil.copytree(vendor, out / "vendor", ignore=shutil.ignore_patterns(".npm-package.json"))
    explorers = root / EXPLORERS_DEST   # the live explorers' networks, written by the book build
    shutil.rmtree(out / "explorers", ignore_errors=True)
    if explorers.is_dir():
        shutil.copytree(explorers, out / "explorers")
    for name in DECK_FILES:
        (out / name).write_bytes((ASSETS / name).read_bytes())
    citations, slides, decks, written = load_citations(root), exporter(), [], []
    for source, nb in notebooks.items():
        title = _title(nb, Path(source).name)
        planned = plan_slides(nb, citations, book_page=f"../html/{source}.html")
        planned.metadata["title"] = re.sub(r"^\d+\.\s*", "", title)
        body, _ = slides.from_notebook_node(planned, resources={"metadata": {"name": Path(source).name}})
        target = out / f"{Path(source).name}.html"
        target.write_text(body, encoding="utf-8")
        num_slides = sum(c.metadata["slideshow"]["slide_type"] in ("slide", "subslide") for c in planned.cells)
        decks.append((target.name, title, num_slides))
        written.append(target)
        if not quiet:
            print(f"{target}: {num_slides} slides")
    config = yaml.safe_load((root / "_config.yml").read_text()) or {}
    (out / "index.html").write_text(_index_page(decks, config.get("title", "Slides"), pdf), encoding="utf-8")
    if pdf:
        from .pdf import print_decks

        for path, pages in print_decks(out, [p.name for p in written]).items():
            if not quiet:
                print(f"{path}: {pages} pages")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genmodels.publish.slides", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=".", help="the book's root (with _toc.yml and _build/); default: here")
    parser.add_argument("--out", default=None, help="output folder (default ROOT/_build/slides)")
    parser.add_argument("--pdf", action="store_true", help="also print every deck to OUT/pdf/<deck>.pdf (Chromium)")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        decks = build_slides(args.root, args.out, pdf=args.pdf, quiet=args.quiet)
    except (FileNotFoundError, RuntimeError) as error:
        print(f"genmodels.publish.slides: {error}", file=sys.stderr)
        return 1
    print(f"{len(decks)} decks and index.html in {Path(args.out) if args.out else Path(args.root) / '_build' / 'slides'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
