"""Slide planning: an executed chapter notebook becomes a lecture deck, one idea per slide.

The rules apply to every chapter, so a new chapter gets a deck a lecturer can teach from with no markup:

* a title slide: "Chapter N", the chapter's title, its outline (the ``##`` headings); the intro prose is spoken;
* a ``##`` heading starts a slide, a ``###`` heading a vertical sub-slide, and the heading is the slide's title;
* every figure or explorer (widget) gets a slide of its own: when a slide already shows one, the next opens a
  sub-slide with the same title. ``deck.js`` scales the figure to fill the room the title leaves, centred;
* display equations stay on the slide; the second and third equations of a slide appear one by one
  (fragments: a derivation unfolds); a fourth opens a new sub-slide;
* prose goes to the speaker notes of its slide (press ``s``), except a sentence of at most ``SHORT_WORDS``
  words and a bullet list of short items, while the slide shows at most ``MAX_WORDS`` words;
* code is shown only where the chapter chose it (tag ``slide-code``); print-outs go to the speaker notes;
* the ``Summary`` and ``Exercises`` sections become the closing slide: the summary's points cut to their first
  clause, and the exercises' titles as homework; their full text is in the notes.

Per-cell choices: tag ``slide-only`` (the book hides such a cell with ``remove-cell``) shows a cell on the slide
as it is written, tags ``book-only``, ``remove-cell`` and ``solution`` leave a cell out, and Jupyter's own
``metadata.slideshow.slide_type`` (``skip``, ``notes``, ``fragment``, ``slide``, ``subslide``) is obeyed.
"""

from __future__ import annotations

import copy
import dataclasses
import html
import re

from .myst import clean_myst, drop_solutions, first_clause, gist, markdown_blocks, words

__all__ = ["Slide", "Planner", "plan_slides"]

SHORT_WORDS = 20           # a paragraph this short may stay on the slide
MAX_WORDS = 35             # words of text a slide shows (title and equations not counted)
MAX_ITEM_WORDS = 16        # a bullet list stays on the slide when each item is this short
MAX_EQUATIONS = 3
SKIP_TAGS = {"remove-cell", "hide-cell", "book-only", "solution"}
NO_OUTPUT_TAGS = {"remove-output", "hide-output"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PICTURES = ("image/png", "image/jpeg", "image/svg+xml", WIDGET_VIEW)
CLOSING = re.compile(r"^(summary|exercises|homework)\b", re.I)


@dataclasses.dataclass
class Slide:
    """One slide being planned: its title, what it shows, what the lecturer says."""

    title: str
    kind: str = "slide"                       # "slide" or "subslide" (vertical)
    shown: list = dataclasses.field(default_factory=list)   # cells shown on the slide
    notes: list = dataclasses.field(default_factory=list)   # Markdown for the speaker notes
    words: int = 0
    equations: int = 0
    visual: bool = False
    gist: tuple[str, str] | None = None       # the first list or paragraph it spoke, for a slide left empty

    def continued(self) -> "Slide":
        return Slide(self.title, "subslide")


def _cell(cell_type: str, source: str, slide_type: str = "-", **metadata):
    import nbformat

    make = nbformat.v4.new_markdown_cell if cell_type == "markdown" else nbformat.v4.new_code_cell
    return make(source, metadata={"slideshow": {"slide_type": slide_type}, **metadata})


class Planner:
    """Walks a chapter's cells in order and fills :class:`Slide` objects."""

    def __init__(self, title: str):
        self.slides = [Slide(title)]
        self.section = ""                     # "", "summary" or "exercises"
        self.summary, self.homework, self.closing_notes = [], [], []

    @property
    def slide(self) -> Slide:
        return self.slides[-1]

    def room_for(self, *, visual: bool = False, equation: bool = False, num_words: int = 0) -> Slide:
        """The current slide if it has room for this, else a new sub-slide with the same title."""
        s = self.slide
        full = (visual and (s.visual or s.equations > 1 or s.words > MAX_WORDS - 10)) or (
            equation and (s.equations >= MAX_EQUATIONS or s.visual)) or s.words + num_words > MAX_WORDS
        if full and (s.shown or s.visual):
            self.slides.append(s.continued())
        return self.slide

    def heading(self, line: str) -> None:
        level, text = len(line) - len(line.lstrip("#")), line.lstrip("#").strip()
        if level == 1:
            return
        if level == 2 and CLOSING.match(text):
            self.section = CLOSING.match(text).group(1).lower()
            return
        self.section = "" if level == 2 else self.section
        if not self.section:
            self.slides.append(Slide(text, "slide" if level == 2 else "subslide"))

    def prose(self, kind: str, text: str, forced: str | None = None) -> None:
        if self.section:
            return self.closing(kind, text)
        if forced == "notes" or (len(self.slides) == 1 and not forced):  # the title slide speaks the intro
            return self.slide.notes.append(text)
        if kind == "math":
            slide = self.room_for(equation=True)
            slide.shown.append(_cell("markdown", text, "fragment" if slide.equations and not forced else forced or "-"))
            slide.equations += 1
            return
        count, items = words(text), re.split(r"\n(?=\s*(?:[*+-]|\d+\.)\s)", text)
        short = (kind == "para" and count <= SHORT_WORDS and not text.rstrip().endswith(":")) or (
            kind == "list" and max(words(item) for item in items) <= MAX_ITEM_WORDS and count <= MAX_WORDS) or (
            kind == "html" and "<img" in text)
        if forced or (short and self.slide.words + count <= MAX_WORDS):
            slide = self.room_for(num_words=count) if not forced else self.slide
            slide.shown.append(_cell("markdown", text, forced if forced in ("fragment",) else "-", deck_curated=bool(forced)))
            slide.words += count
        else:
            self.slide.notes.append(text)
            if (kind == "list" and (self.slide.gist or ("para",))[0] == "para") or (kind == "para" and not self.slide.gist):
                self.slide.gist = (kind, text)  # a list first, else the first paragraph

    def closing(self, kind: str, text: str) -> None:
        self.closing_notes.append(text)
        if self.section == "summary" and kind == "list":
            items = re.split(r"\n(?=\s*[*+-]\s)", text)
            self.summary += [first_clause(re.sub(r"^\s*[*+-]\s+", "", item).replace("\n", " ")) for item in items]
        for title in re.findall(r"\*\*Exercise: (.+?)\*\*", text):
            self.homework.append(title)

    def outputs(self, cell, tags: set[str], show_code: bool) -> None:
        outputs = [] if tags & NO_OUTPUT_TAGS else [
            o for o in cell.get("outputs", []) if not (o.output_type == "stream" and o.get("name") == "stderr")]
        pictures = [o for o in outputs if any(k in o.get("data", {}) for k in PICTURES)
                    or re.search(r"<(img|canvas|svg)\b", str(o.get("data", {}).get("text/html", "")))]  # a player
        printed = [o for o in outputs if o not in pictures]
        if self.section:
            return
        text = "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in printed).strip()
        if show_code:
            slide = self.room_for(visual=True)
            new = _cell("code", cell.source)
            new.outputs, new.execution_count = copy.deepcopy(pictures), cell.get("execution_count")
            slide.shown.append(new)
            slide.visual = slide.visual or bool(pictures)
        else:
            for output in pictures:
                slide = self.room_for(visual=True)
                new = _cell("code", cell.source, transient={"remove_source": True})
                new.outputs = [copy.deepcopy(output)]
                slide.shown.append(new)
                slide.visual = True
        if text and "<Figure" not in text:
            self.slide.notes.append("```text\n" + text + "\n```")


def _title_cell(title: str, outline: list[str], book_page: str):
    match = re.match(r"^(\d+)\.\s*(.*)$", title)
    number, name = (match.group(1), match.group(2)) if match else ("", title)
    chapter = f'<p class="deck-chapter">Chapter {number}</p>\n\n' if number else ""
    items = "\n".join(f"{i}. {item}" for i, item in enumerate(outline, 1))
    link = (f'\n\n<p class="deck-source">Generative Networks, lecture slides. '
            f'The full chapter: <a href="{html.escape(book_page)}">the book</a>.</p>') if book_page else ""
    return _cell("markdown", f'{chapter}<div class="deck-title-mark"></div>\n\n# {name}\n\n{items}{link}', "slide")


def plan_slides(nb, citations: dict[str, str] | None = None, book_page: str = ""):
    """A copy of an executed notebook with ``metadata.slideshow`` on every cell, ready for nbconvert."""
    import nbformat

    citations = citations or {}
    texts = [clean_myst(c.source, citations) for c in nb.cells if c.cell_type == "markdown"]
    headings = [b for t in texts for kind, b in markdown_blocks(t) if kind == "heading"]
    title = next((h[2:].strip() for h in headings if h.startswith("# ")), "")
    outline = [h[3:].strip() for h in headings if h.startswith("## ") and not CLOSING.match(h[3:].strip())]
    planner = Planner(title)
    in_solution, seen_code = False, False
    for cell in nb.cells:
        tags = set(cell.metadata.get("tags", []))
        forced = cell.metadata.get("slideshow", {}).get("slide_type")
        if "slide-only" in tags:
            tags, forced = tags - {"remove-cell"}, forced or "-"
        is_setup = cell.cell_type == "code" and not seen_code and "slide-code" not in tags
        seen_code = seen_code or (cell.cell_type == "code" and not tags & SKIP_TAGS)  # not the install cell
        if tags & SKIP_TAGS or forced == "skip" or is_setup:
            continue
        if forced in ("slide", "subslide") and planner.slide.shown:
            planner.slides.append(Slide(planner.slide.title, forced))
            forced = "-"
        if cell.cell_type == "markdown":
            text, in_solution = drop_solutions(cell.source, in_solution)
            for kind, block in markdown_blocks(clean_myst(text, citations)):
                if kind == "heading":
                    planner.heading(block)
                else:
                    planner.prose(kind, block, forced)
        elif cell.cell_type == "code" and not in_solution:
            planner.outputs(cell, tags, show_code="slide-code" in tags)
    return nbformat.v4.new_notebook(cells=_emit(planner, title, outline, book_page), metadata=nb.metadata)


def _emit(planner: Planner, title: str, outline: list[str], book_page: str) -> list:
    first, *rest = planner.slides
    cells = [_title_cell(title, outline, book_page)] + first.shown
    teaser = next((c for s in reversed(rest) for c in reversed(s.shown) if c.cell_type == "code" and c.outputs
                   and "image/png" in c.outputs[0].get("data", {})), None)
    if teaser is not None:  # the chapter's last figure beside the outline: where the lecture is going
        cells.append(_cell("code", "", transient={"remove_source": True}))
        cells[-1].outputs = copy.deepcopy(teaser.outputs[:1])
    cells += [_cell("markdown", "\n\n".join(first.notes), "notes")] if first.notes else []
    for slide in rest:
        if not slide.shown and not slide.notes:
            continue
        if not slide.shown and slide.gist:  # a slide with only its title shows the gist of what it speaks
            slide.shown = [_cell("markdown", gist(*slide.gist))]
        if slide.visual and slide.equations:  # figure and formula: the sentences give them the room, and are spoken
            lines = [c for c in slide.shown if c.cell_type == "markdown" and not c.source.startswith(("$$", "\\begin"))
                     and c.metadata["slideshow"]["slide_type"] == "-" and not c.metadata.get("deck_curated")]
            slide.shown = [c for c in slide.shown if c not in lines]
            slide.notes[:0] = [c.source for c in lines]
        cells.append(_cell("markdown", f"## {slide.title}", slide.kind))
        cells += slide.shown
        cells += [_cell("markdown", "\n\n".join(slide.notes), "notes")] if slide.notes else []
    if planner.summary or planner.homework:
        parts = ['<div class="deck-closing-mark"></div>\n\n## Summary and homework']
        parts += ["### In this chapter\n\n" + "\n".join(f"* {s}" for s in planner.summary)] if planner.summary else []
        parts += ["### Homework\n\n" + "\n".join(f"{i}. {h}" for i, h in enumerate(planner.homework, 1))] \
            if planner.homework else []
        cells.append(_cell("markdown", "\n\n".join(parts), "slide"))
        cells.append(_cell("markdown", "\n\n".join(planner.closing_notes), "notes"))
    return cells
