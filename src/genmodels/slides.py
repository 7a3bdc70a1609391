"""Lecture slides: every chapter of the book as a reveal.js deck, from the notebooks the book executed.

    python -m genmodels.slides        # after `jupyter-book build .`; writes _build/slides/index.html

The decks are made from ``_build/jupyter_execute/`` (the book's executed copies), so nothing trains twice
and the widget state of the explorers comes along: their sliders work in the slides too, with no kernel.
reveal.js 5, MathJax 3, require.js and the widget manager are the files :mod:`genmodels.vendor` fetched;
a deck loads nothing from the network.

The slide structure is derived from the chapter, so the notebook stays the single source:

* a ``#`` or ``##`` heading starts a slide, a ``###`` heading a vertical sub-slide;
* a paragraph of more than ``SHORT_PROSE`` characters goes to the speaker notes (press ``s``); its display
  equations stay on the slide;
* a code cell shows its outputs; its code too when it has at most ``MAX_CODE_LINES`` lines. The set-up cell
  (the first code cell) and code cells without output and with long code stay in the book;
* a slide that would overflow, or would show a second figure or widget, continues on a new sub-slide;
* skipped: cells tagged ``remove-cell``, ``hide-cell``, ``book-only`` or ``solution``, exercise solutions,
  the code of ``remove-input`` / ``hide-input`` cells and the outputs of ``remove-output`` / ``hide-output``;
* MyST markup becomes plain Markdown: citations read "[Kingma and Welling, 2014]", glossary terms and
  cross-references keep their text, admonitions become quotes;
* a cell with an explicit ``metadata.slideshow.slide_type`` is placed as it says.
"""

from __future__ import annotations

import argparse
import base64
import copy
import dataclasses
import html
import re
import shutil
import struct
import sys
from pathlib import Path

from .vendor import DEFAULT_DEST, vendor_assets

__all__ = ["chapter_sources", "clean_myst", "executed_notebook", "plan_slides", "build_slides", "main"]

SHORT_PROSE = 320          # characters: a paragraph longer than this is spoken, not shown
MAX_CODE_LINES = 14        # longer code stays in the book; its outputs still go on the slide
SLIDE_WIDTH, SLIDE_HEIGHT = 1100, 680   # px of content a slide holds (deck 1100 x 760, minus margins)
TITLE_HEIGHT = 80
MIN_PICTURE = 260          # px: a figure is never shrunk below this to fit a slide
SKIP_TAGS = {"remove-cell", "hide-cell", "book-only", "solution"}
NO_INPUT_TAGS = {"remove-input", "hide-input"}
NO_OUTPUT_TAGS = {"remove-output", "hide-output"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


# ----------------------------------------------------------------------------- which notebooks
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


# ----------------------------------------------------------------------------- MyST -> Markdown
def load_citations(root: Path) -> dict[str, str]:
    """``{bibtex key: "Kingma and Welling, 2014"}`` from the bibliography files named in ``_config.yml``."""
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text()) or {}
    try:  # pybtex comes with sphinxcontrib-bibtex
        from pybtex.database import parse_file
        from pybtex.richtext import Text
    except ImportError:
        return {}
    labels = {}
    for bibfile in config.get("bibtex_bibfiles", []):
        for key, entry in parse_file(str(root / bibfile)).entries.items():
            people = entry.persons.get("author") or entry.persons.get("editor") or []
            names = [Text.from_latex(" ".join(p.last_names)).render_as("text") for p in people]
            who = names[0] if len(names) == 1 else " and ".join(names) if len(names) == 2 else f"{names[0]} et al."
            labels[key] = f"{who}, {entry.fields.get('year', 'n.d.')}" if names else key
    return labels


_ROLE = re.compile(r"\{([a-zA-Z][\w:+-]*)\}`([^`]*)`")
_FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<arg>.*)$")


def _role(match: re.Match, citations: dict[str, str]) -> str:
    name, content = match.group(1), match.group(2)
    if name.startswith("cite"):
        refs = [citations.get(k.strip(), k.strip()) for k in content.split(",")]
        if name == "cite:t":  # as sphinxcontrib-bibtex's author_year style writes them
            return "; ".join(re.sub(r", (\S+)$", r" [\1]", r) for r in refs)
        return "[" + "; ".join(refs) + "]"
    if name == "math":
        return f"${content}$"
    text = re.sub(r"\s*<[^>]*>$", "", content).strip()  # "text <target>" -> "text"
    return text or content


def _directive(name: str, arg: str, body: list[str]) -> list[str]:
    """One MyST directive as Markdown lines (solutions and labels dropped)."""
    body = [line for line in body if not re.match(r"^:[\w-]+:", line)]  # options such as :label:
    if name in ("solution", "solution-start", "solution-end", "toctree", "bibliography", "tableofcontents"):
        return []
    if name == "exercise":
        return [f"**Exercise: {arg.strip()}**" if arg.strip() else "**Exercise**", ""] + body
    if name == "math":
        return ["$$", *body, "$$"]
    if name in ("figure", "image"):
        return body  # the caption; the picture itself lives in the book
    if name in ("note", "tip", "hint", "important", "warning", "caution", "attention", "seealso", "admonition"):
        title = arg.strip() or name.capitalize()
        return [f"> **{title}.** " + (body[0] if body else "")] + [f"> {line}" for line in body[1:]]
    return body


def clean_myst(text: str, citations: dict[str, str] | None = None) -> str:
    """Turn the MyST of a book cell into Markdown that nbconvert and MathJax render."""
    citations = citations or {}
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match:
            fence, end = match.group("fence"), i + 1
            while end < len(lines) and lines[end].strip() != fence:
                end += 1
            block = _directive(match.group("name"), match.group("arg"), [clean_myst(l, citations) for l in lines[i + 1:end]])
            out += ["", *block, ""] if block else []  # blank lines: a quote must not swallow what follows
            i = end + 1
            continue
        line = lines[i]
        if re.match(r"^\s*\(([\w:-]+)\)=\s*$", line) or line.startswith("%") or line.strip() == "+++":
            i += 1
            continue  # targets, comments, block breaks
        line = re.sub(r"(\$\$)\s*\([\w:-]+\)\s*$", r"\1", line)  # "$$ (eq-label)"
        out.append(_ROLE.sub(lambda m: _role(m, citations), line))
        i += 1
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def drop_solutions(text: str, inside: bool) -> tuple[str, bool]:
    """Remove what lies between ``{solution-start}`` and ``{solution-end}``; ``inside`` carries across cells."""
    kept, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        if "{solution-start}" in line:
            inside = True
        elif "{solution-end}" in line:
            inside = False
            if i + 1 < len(lines) and re.fullmatch(r"`{3,}|:{3,}", lines[i + 1].strip()):
                lines[i + 1] = ""  # the closing fence of the directive
        elif not inside:
            kept.append(line)
    return "\n".join(kept), inside


# ----------------------------------------------------------------------------- slide planning
@dataclasses.dataclass
class Piece:
    """Cells that go on a slide together, with a rough height in px."""

    cells: list
    height: int = 0
    visual: bool = False              # a figure or a widget
    starts: str | None = None         # "slide" / "subslide": a heading opens a new one
    title: str = ""
    fixed: str | None = None          # an explicit slide_type from the notebook
    lead: bool = False                # a short paragraph that introduces what follows


def _png_size(data: str) -> tuple[int, int]:
    raw = base64.b64decode(data[:44])  # the IHDR chunk: width and height at bytes 16-24
    return struct.unpack(">II", raw[16:24])


def _output_height(output) -> tuple[int, bool]:
    """Rough height of one output on a slide (px) and whether it is a picture or a widget."""
    data = output.get("data", {})
    if "image/png" in data:
        width, height = _png_size(data["image/png"])
        return int(height * min(1.0, SLIDE_WIDTH / max(width, 1))), True
    if WIDGET_VIEW in data:
        return 320, True
    if "image/svg+xml" in data or "image/jpeg" in data:
        return 400, True
    text = output.get("text", "") or data.get("text/plain", "")
    return 20 * min(len(str(text).splitlines()), 25) + 20, False


def _text_height(text: str) -> int:
    """Rough height of rendered Markdown (px): 85 characters a line, display equations taller."""
    lines = sum(max(1, len(line) // 85 + 1) for line in text.splitlines() if line.strip())
    return 32 * lines + 40 * (text.count("$$") // 2) + 20


def _fit_pictures(cell, room: int) -> None:
    """Shrink the PNG outputs of a planned code cell so that they share ``room`` px of the slide."""
    pictures = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    others = sum(_output_height(o)[0] for o in cell.get("outputs", []) if o not in pictures)
    code = 0 if cell.metadata.get("transient", {}).get("remove_source") else 20 * (cell.source.count("\n") + 1) + 30
    share = max(MIN_PICTURE, (room - others - code) // max(len(pictures), 1))
    for output in pictures:
        width, height = _png_size(output["data"]["image/png"])
        if _output_height(output)[0] > share:  # a width attribute scales it (nbconvert's CSS keeps the aspect)
            output.setdefault("metadata", {})["image/png"] = {"width": int(width * share / height)}


def _cell(cell_type: str, source: str, slide_type: str = "-"):
    import nbformat

    make = nbformat.v4.new_markdown_cell if cell_type == "markdown" else nbformat.v4.new_code_cell
    return make(source, metadata={"slideshow": {"slide_type": slide_type}})


_DISPLAY_MATH = re.compile(r"^\$\$.*?\$\$[ \t]*$|^\\begin\{(\w+\*?)\}.*?^\\end\{\1\}", re.M | re.S)


def _split_prose(text: str) -> tuple[str, str]:
    """(what goes on the slide, what goes to the notes): long prose is spoken, its display equations shown."""
    if len(text) <= SHORT_PROSE:
        return text, ""
    return "\n\n".join(m.group(0) for m in _DISPLAY_MATH.finditer(text)), text


def _markdown_pieces(text: str, override: str | None, keep: bool = False) -> list[Piece]:
    """A Markdown cell as pieces: its heading, what stays on the slide (all of it when ``keep``), the notes."""
    if override:
        return [Piece([_cell("markdown", text, override)], _text_height(text), fixed=override)]
    first, _, rest = text.partition("\n")
    heading = re.match(r"^(#{1,6})\s+(.*)$", first)
    pieces = []
    if heading:
        starts = "slide" if len(heading.group(1)) <= 2 else "subslide"
        pieces.append(Piece([_cell("markdown", first)], TITLE_HEIGHT, starts=starts, title=heading.group(2).strip()))
        text = rest.strip()
    if text:
        shown, notes = (text, "") if keep else _split_prose(text)
        if shown:
            pieces.append(Piece([_cell("markdown", shown)], _text_height(shown), lead=not notes and not keep))
        if notes:
            pieces.append(Piece([_cell("markdown", notes, "notes")]))
    return pieces


def _code_piece(cell, tags: set[str]) -> Piece | None:
    """A code cell as a piece: its outputs, and its code when short enough to read on a slide."""
    override = cell.metadata.get("slideshow", {}).get("slide_type")
    outputs = [] if tags & NO_OUTPUT_TAGS else [
        copy.deepcopy(o) for o in cell.get("outputs", []) if not (o.output_type == "stream" and o.get("name") == "stderr")]
    heights = [_output_height(o) for o in outputs]
    output_height = sum(h for h, _ in heights)
    lines = cell.source.count("\n") + 1
    code_height = 20 * lines + 30
    show_code = override is not None or not (
        tags & NO_INPUT_TAGS or lines > MAX_CODE_LINES
        or TITLE_HEIGHT + code_height + min(output_height, MIN_PICTURE) > SLIDE_HEIGHT)
    if not override and not outputs and not show_code:
        return None  # nothing to show: the code is in the book
    new = _cell("code", cell.source, override or "-")
    new.outputs, new.execution_count = outputs, cell.get("execution_count")
    if not show_code:
        new.metadata["transient"] = {"remove_source": True}
    height = (code_height if show_code else 0) + output_height
    return Piece([new], height, visual=any(v for _, v in heights), fixed=override)


def _pieces(nb, citations: dict[str, str]) -> list[Piece]:
    pieces: list[Piece] = []
    in_solution, seen_code = False, False  # the first code cell (imports, seed, device) stays in the book
    for cell in nb.cells:
        tags = set(cell.metadata.get("tags", []))
        override = cell.metadata.get("slideshow", {}).get("slide_type")
        is_setup = cell.cell_type == "code" and not seen_code and not override
        seen_code = seen_code or (cell.cell_type == "code" and not tags & SKIP_TAGS)  # the install cell is not it
        if tags & SKIP_TAGS or override == "skip" or is_setup:
            continue
        if cell.cell_type == "markdown":
            text, in_solution = drop_solutions(cell.source, in_solution)
            keep = "{exercise}" in cell.source  # an exercise is read on the slide, not spoken
            text = clean_myst(text, citations)
            pieces += _markdown_pieces(text, override, keep) if text else []
        elif cell.cell_type == "code" and not in_solution:
            piece = _code_piece(cell, tags)
            pieces += [piece] if piece else []
    return pieces


def plan_slides(nb, citations: dict[str, str] | None = None, book_page: str = ""):
    """A copy of an executed notebook with ``metadata.slideshow`` on every cell, ready for nbconvert.

    ``book_page`` (a relative link to the chapter in the book) is shown on the title slide.
    """
    import nbformat

    cells: list = []
    height, has_visual, title, num_items, lead = 0, False, "", 0, False
    for piece in _pieces(nb, citations or {}):
        slideshow = piece.cells[0].metadata["slideshow"]
        if piece.starts or piece.fixed in ("slide", "subslide"):
            slideshow["slide_type"] = piece.fixed or piece.starts
            height, has_visual, title, num_items = piece.height, piece.visual, piece.title or title, 0
        elif piece.fixed is None and piece.height and num_items > int(lead) and (
            height + piece.height > SLIDE_HEIGHT or (piece.visual and has_visual)
        ):  # continue on a new sub-slide, with the paragraph that leads into this piece
            carried = [cells.pop()] if lead else []
            cells.append(_cell("markdown", f"### {title}", "subslide"))
            cells += carried
            height = TITLE_HEIGHT + sum(_text_height(c.source) for c in carried) + piece.height
            has_visual, num_items = piece.visual, len(carried) + 1
        else:
            height, has_visual, num_items = height + piece.height, has_visual or piece.visual, num_items + bool(piece.height)
        for cell in piece.cells:
            if cell.cell_type == "code":
                _fit_pictures(cell, SLIDE_HEIGHT - (height - piece.height))
        cells += piece.cells
        lead = piece.lead
    if not cells:
        raise ValueError("the notebook has nothing to show on a slide")
    cells[0].metadata["slideshow"]["slide_type"] = "slide"
    if book_page:
        link = f'<p class="deck-source">Generative Networks, lecture slides. The full chapter: <a href="{book_page}">the book</a>.</p>'
        cells.insert(1, _cell("markdown", link))
    return nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata)


# ----------------------------------------------------------------------------- export
TEMPLATE = r"""
{%- extends 'index.html.j2' -%}
{#- The reveal template of nbconvert, offline: no jQuery, no mermaid and no MathJax 2 from a CDN. -#}
{%- block html_head_js -%}
<link rel="icon" href="data:,">
<script src="{{ resources.require_js_url }}"></script>
{%- endblock html_head_js -%}

{% block jupyter_widgets %}
{%- if "widgets" in nb.metadata -%}
<script src="vendor/widgets-offline.js"></script>
<script src="{{ resources.widget_renderer_url }}" data-jupyter-widgets-cdn="vendor/"></script>
{%- endif -%}
{% endblock jupyter_widgets %}

{%- block html_head_js_mathjax -%}
<script>
window.MathJax = {
  tex: {inlineMath: [['$', '$'], ['\\(', '\\)']], displayMath: [['$$', '$$'], ['\\[', '\\]']],
        processEscapes: true, processEnvironments: true, tags: 'ams'}
};
</script>
<script defer src="{{ resources.mathjax_url }}"></script>
<style>
.reveal .slides section h1, .reveal .slides section h2, .reveal .slides section h3 { text-transform: none; }
.reveal .jp-RenderedMarkdown p, .reveal .jp-RenderedMarkdown li { line-height: 1.35; }
.reveal .deck-source { font-size: 16px; color: #666; }
.reveal section img { margin: 0; }
.reveal .jp-InputArea-editor pre, .reveal .jp-RenderedText pre { white-space: pre-wrap; overflow-wrap: anywhere; }
:root { --jp-code-font-size: 16px; --jp-content-font-size1: 22px; }
</style>
{%- endblock html_head_js_mathjax -%}

{% block footer_js %}
<script>
require({waitSeconds: 60},
  ["{{ resources.reveal.url_prefix }}/dist/reveal.js", "{{ resources.reveal.url_prefix }}/plugin/notes/notes.js"],
  function (Reveal, RevealNotes) {
    window.Reveal = Reveal;  // for the console and the browser test
    Reveal.initialize({
      controls: true, progress: true, hash: true, slideNumber: "c/t",
      transition: "{{ resources.reveal.transition }}", width: 1100, height: 760,
      plugins: [RevealNotes],
      // arrow keys move a focused slider instead of the deck
      keyboardCondition: function (event) {
        return !(event.target && event.target.closest && event.target.closest(".jupyter-widgets"));
      }
    });
    // MathJax 3 does not break long equations: shrink a display equation that is wider than the slide
    function fitMath(event) {
      var slide = (event && event.currentSlide) || Reveal.getCurrentSlide();
      slide.querySelectorAll('mjx-container[display="true"]').forEach(function (box) {
        if (box.clientWidth > 0 && box.scrollWidth > box.clientWidth) {
          box.style.fontSize = Math.floor(98 * box.clientWidth / box.scrollWidth) + "%";
        }
      });
    }
    Reveal.on("slidechanged", fitMath);
    Reveal.on("ready", function () {
      if (window.MathJax && MathJax.startup) { MathJax.startup.promise.then(function () { fitMath(); }); }
    });
  });
</script>
{% endblock footer_js %}
"""


def _exporter():
    import jinja2
    from nbconvert import SlidesExporter
    from traitlets.config import Config

    config = Config()
    options = config.SlidesExporter
    options.reveal_url_prefix = "vendor/reveal.js"
    options.reveal_theme = "white"
    options.reveal_transition = "slide"
    options.require_js_url = "vendor/requirejs/require.js"
    options.mathjax_url = "vendor/mathjax/es5/tex-mml-chtml.js"
    options.widget_renderer_url = "vendor/html-manager/dist/embed-amd.js"
    options.exclude_input_prompt = True
    options.exclude_output_prompt = True
    options.exclude_anchor_links = True
    exporter = SlidesExporter(config=config, extra_loaders=[jinja2.DictLoader({"genmodels-slides.html.j2": TEMPLATE})])
    exporter.template_file = "genmodels-slides.html.j2"
    return exporter


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


def _index_page(decks: list[tuple[str, str, int]], book_title: str) -> str:
    items = "\n".join(f'  <li><a href="{html.escape(f)}">{html.escape(t)}</a> <span>{n} slides</span></li>'
                      for f, t, n in decks)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(book_title)}: slides</title>
<style>body {{ font: 18px/1.5 system-ui, sans-serif; max-width: 46em; margin: 3em auto; padding: 0 1em; }}
li {{ margin: .4em 0; }} span {{ color: #777; font-size: .85em; }}</style></head>
<body><h1>{html.escape(book_title)}: lecture slides</h1>
<p>One reveal.js deck per chapter. Arrow keys or space move through a deck, <kbd>s</kbd> opens the speaker
notes, <kbd>f</kbd> goes full screen, <kbd>Esc</kbd> shows the overview. Everything is local: the decks work
offline. The full text is in <a href="../html/index.html">the book</a>.</p>
<ol>
{items}
</ol></body></html>
"""


def build_slides(root: str | Path = ".", out: str | Path | None = None, *, quiet: bool = False) -> list[Path]:
    """Write one deck per notebook chapter of ``_toc.yml`` and an index into ``out`` (default ``_build/slides``)."""
    import yaml

    root = Path(root)
    out = Path(out) if out is not None else root / "_build" / "slides"
    notebooks = {source: executed_notebook(root, source) for source in chapter_sources(root)}
    vendor = root / DEFAULT_DEST
    vendor_assets(vendor, quiet=True)
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / "vendor", ignore_errors=True)
    shutil.copytree(vendor, out / "vendor", ignore=shutil.ignore_patterns(".npm-package.json"))
    citations, exporter, decks, written = load_citations(root), _exporter(), [], []
    for source, nb in notebooks.items():
        title = _title(nb, Path(source).name)
        planned = plan_slides(nb, citations, book_page=f"../html/{source}.html")
        planned.metadata["title"] = title
        body, _ = exporter.from_notebook_node(planned, resources={"metadata": {"name": Path(source).name}})
        target = out / f"{Path(source).name}.html"
        target.write_text(body, encoding="utf-8")
        num_slides = sum(c.metadata["slideshow"]["slide_type"] in ("slide", "subslide") for c in planned.cells)
        decks.append((target.name, title, num_slides))
        written.append(target)
        if not quiet:
            print(f"{target}: {num_slides} slides")
    config = yaml.safe_load((root / "_config.yml").read_text()) or {}
    (out / "index.html").write_text(_index_page(decks, config.get("title", "Slides")), encoding="utf-8")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genmodels.slides", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=".", help="the book's root (with _toc.yml and _build/); default: here")
    parser.add_argument("--out", default=None, help="output folder (default ROOT/_build/slides)")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        decks = build_slides(args.root, args.out, quiet=args.quiet)
    except (FileNotFoundError, RuntimeError) as error:
        print(f"genmodels.slides: {error}", file=sys.stderr)
        return 1
    print(f"{len(decks)} decks and index.html in {Path(args.out) if args.out else Path(args.root) / '_build' / 'slides'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
